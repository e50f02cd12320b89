package sync

import (
	"context"
	"time"

	"golang.org/x/time/rate"
)

// limiter caps upload bandwidth at rate bytes per second with 1/8 s of
// burst (golang.org/x/time/rate's token bucket, starting empty).
type limiter struct {
	l     *rate.Limiter
	burst int
}

func newLimiter(bytesPerSec int64) *limiter {
	if bytesPerSec <= 0 {
		return nil
	}
	burst := int(max(bytesPerSec/8, 1))
	l := rate.NewLimiter(rate.Limit(bytesPerSec), burst)
	l.ReserveN(time.Now(), burst) // start empty: the first bytes wait too
	return &limiter{l: l, burst: burst}
}

// wait blocks until n more bytes may be sent, or ctx ends.
func (l *limiter) wait(ctx context.Context, n int) error {
	for n > 0 {
		k := min(n, l.burst)
		if err := l.l.WaitN(ctx, k); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		n -= k
	}
	return nil
}
