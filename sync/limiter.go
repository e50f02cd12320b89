package sync

import (
	"context"
	gosync "sync"
	"time"
)

// limiter is a token bucket of rate bytes per second with 1/8 s of burst.
type limiter struct {
	rate int64
	mu   gosync.Mutex
	tok  float64
	last time.Time
}

func newLimiter(rate int64) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{rate: rate, tok: 0, last: time.Now()}
}

func (l *limiter) wait(ctx context.Context, n int) error {
	l.mu.Lock()
	now := time.Now()
	l.tok += now.Sub(l.last).Seconds() * float64(l.rate)
	if burst := float64(l.rate) / 8; l.tok > burst {
		l.tok = burst
	}
	l.last = now
	l.tok -= float64(n)
	var d time.Duration
	if l.tok < 0 {
		d = time.Duration(-l.tok / float64(l.rate) * float64(time.Second))
	}
	l.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
