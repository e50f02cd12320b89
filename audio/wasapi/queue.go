package wasapi

import (
	"encoding/binary"
	"math"
	"sync"
	"time"
)

// maxQueued bounds the samples waiting for Read (1 s): if the reader stalls,
// the oldest call audio is dropped rather than drifting behind the
// microphone without end.
const maxQueued = SampleRate

// queue hands captured mono samples from the capture thread to Read.
type queue struct {
	mu      sync.Mutex
	more    chan struct{} // signalled (non-blocking) on every push
	buf     []float32
	err     error // set once capture failed; Read returns it
	dropped int   // samples dropped because the reader stalled
}

func newQueue() *queue { return &queue{more: make(chan struct{}, 1)} }

func (q *queue) push(s []float32) {
	q.mu.Lock()
	q.buf = append(q.buf, s...)
	if over := len(q.buf) - maxQueued; over > 0 {
		q.buf = append(q.buf[:0], q.buf[over:]...)
		q.dropped += over
	}
	q.mu.Unlock()
	select {
	case q.more <- struct{}{}:
	default:
	}
}

func (q *queue) fail(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	q.mu.Unlock()
	select {
	case q.more <- struct{}{}:
	default:
	}
}

// reset drops what is queued (not an error).
func (q *queue) reset() {
	q.mu.Lock()
	q.buf = q.buf[:0]
	q.mu.Unlock()
}

// keepNewest drops all but the newest n queued samples.
func (q *queue) keepNewest(n int) {
	q.mu.Lock()
	if over := len(q.buf) - n; over > 0 {
		q.buf = append(q.buf[:0], q.buf[over:]...)
	}
	q.mu.Unlock()
}

// read fills out with queued samples, waiting up to wait for enough; what
// is still missing then is silence (nothing was playing).
func (q *queue) read(out []float32, wait time.Duration) error {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		q.mu.Lock()
		if q.err != nil {
			err := q.err
			q.mu.Unlock()
			return err
		}
		if len(q.buf) >= len(out) {
			copy(out, q.buf)
			q.buf = append(q.buf[:0], q.buf[len(out):]...)
			q.mu.Unlock()
			return nil
		}
		q.mu.Unlock()
		select {
		case <-q.more:
		case <-deadline.C:
			q.mu.Lock()
			n := copy(out, q.buf)
			q.buf = q.buf[:0]
			q.mu.Unlock()
			clear(out[n:])
			return nil
		}
	}
}

// sampleFormat is how the device hands over samples.
type sampleFormat int

const (
	float32LE sampleFormat = iota + 1
	int16LE
	int32LE
)

func (f sampleFormat) bytes() int {
	if f == int16LE {
		return 2
	}
	return 4
}

// downmix appends the mono average of the interleaved frames in src
// (channels per frame, format f) to dst. A trailing partial frame is ignored.
func downmix(dst []float32, src []byte, channels int, f sampleFormat) []float32 {
	if channels < 1 {
		return dst
	}
	step := channels * f.bytes()
	inv := 1 / float32(channels)
	for off := 0; off+step <= len(src); off += step {
		var sum float32
		for c := 0; c < channels; c++ {
			p := src[off+c*f.bytes():]
			switch f {
			case float32LE:
				sum += math.Float32frombits(binary.LittleEndian.Uint32(p))
			case int16LE:
				sum += float32(int16(binary.LittleEndian.Uint16(p))) / 32768
			case int32LE:
				sum += float32(int32(binary.LittleEndian.Uint32(p))) / 2147483648
			}
		}
		v := sum * inv
		if v != v { // NaN from a broken driver
			v = 0
		}
		dst = append(dst, max(-1, min(1, v)))
	}
	return dst
}
