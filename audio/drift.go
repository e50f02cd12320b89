package audio

import "math"

// Drift between two sound cards. The microphone and the call input are
// read in lock-step, one buffer each per round. On two devices with their
// own clocks (a USB headset and the laptop's sound card) one runs 50–200
// ppm faster than the other: its PortAudio buffer fills by up to ~10
// frames a second until it overflows, and the channels drift apart.
//
// driftComp keeps them together. After each round it is told each input's
// backlog: the frames captured but not yet handed on (PortAudio's
// AvailableToRead plus what the read loop holds). The difference of the
// two backlogs is the channels' offset: a sample handed on now from an
// input with a backlog of B frames was captured B frames ago. Over the
// first warmupRounds it learns the starting offset and how much the
// measurement jumps (the two devices start
// at different moments; that offset is kept, not corrected); afterwards,
// when the smoothed offset moved more than driftThreshold frames (or the
// measurement's mean deviation, if larger) away from it, one frame of the input that is ahead (the faster clock, the
// larger backlog) is dropped at the quietest point of its next buffer: at
// most one frame a round, 50 a second, enough for 1000 ppm. Dropping from
// the one ahead never starves the other. The backlog as measured jumps by
// whole device periods, so it is smoothed (a level over about five seconds
// and a trend over about twenty, so the estimate does not trail clocks that
// steadily part); the corrections applied are counted outside the
// smoothing, so it does not over-correct while the estimate catches up.
//
// A device that changes under an input (the default output switched) has
// its own latency: rebase learns the offset again.
type driftComp struct {
	rounds   int
	warm     []float64 // offsets during the warm-up
	baseline float64
	ema      float64 // smoothed offset (level)
	trend    float64 // its change per round (clocks parting)
	jitter   float64 // mean absolute deviation of the measured offset
	applied  int64   // frames dropped from input 0 minus frames dropped from input 1
	drops    [2]int64
	maxErr   float64
}

const (
	warmupRounds   = 250 // 5 s of 20 ms buffers
	driftThreshold = 64  // frames (1.3 ms) of smoothed offset before a frame is dropped
	driftSmoothing = 1.0 / 256
	trendSmoothing = 1.0 / 1024
)

// observe takes the backlogs of input 0 and 1 after a round and says from
// which input to drop one frame in the next round (-1: none).
func (d *driftComp) observe(backlog0, backlog1 int) int {
	// The offset as it would be without the corrections made so far.
	off := float64(backlog0-backlog1) + float64(d.applied)
	d.rounds++
	if d.rounds <= warmupRounds {
		d.warm = append(d.warm, off)
		if d.rounds == warmupRounds {
			for _, v := range d.warm {
				d.baseline += v / warmupRounds
			}
			for _, v := range d.warm {
				d.jitter += math.Abs(v-d.baseline) / warmupRounds
			}
			d.ema, d.warm = d.baseline, nil
		}
		return -1
	}
	// Holt's double exponential smoothing: a level and a trend, so the
	// estimate does not lag behind clocks that steadily part.
	prev := d.ema
	d.ema += d.trend + (off-d.ema-d.trend)*driftSmoothing
	d.trend += (d.ema - prev - d.trend) * trendSmoothing
	d.jitter += (math.Abs(off-d.ema) - d.jitter) * driftSmoothing
	// Frames input 0 is ahead of where it started, after the corrections.
	err := d.ema - d.baseline - float64(d.applied)
	d.maxErr = math.Max(d.maxErr, math.Abs(err))
	// A backlog delivered in large bursts says little about the offset:
	// act only on a change well beyond how much the measurement jumps.
	limit := math.Max(driftThreshold, d.jitter)
	switch {
	case err > limit:
		return 0
	case err < -limit:
		return 1
	}
	return -1
}

// dropped records that one frame of input c was dropped.
func (d *driftComp) dropped(c int) {
	d.drops[c]++
	if c == 0 {
		d.applied++
	} else {
		d.applied--
	}
}

// rebase forgets the offset learnt: a device changed under an input.
func (d *driftComp) rebase() {
	*d = driftComp{drops: d.drops}
}

// corrections is how many frames were dropped from each input.
func (d *driftComp) corrections() [2]int64 { return d.drops }

// dropQuietest removes the sample of x[:n] with the smallest magnitude (the
// quietest point: a dropped frame there is not heard) and returns x one
// shorter.
func dropQuietest(x []float32, n int) []float32 {
	n = min(n, len(x))
	if n == 0 {
		return x
	}
	at, least := 0, float32(math.MaxFloat32)
	for i, v := range x[:n] {
		if v < 0 {
			v = -v
		}
		if v < least {
			at, least = i, v
		}
	}
	return append(x[:at], x[at+1:]...)
}

// lockstep reads two inputs one buffer each per round, interleaved as
// stereo, keeping them together with a driftComp. read returns the next
// buffer of input c (blocking); backlog says how many frames input c has
// captured that read has not returned yet (false: unknown this round).
type lockstep struct {
	pend  [2][]float32
	drift driftComp
	drop  int // 1 + the input to drop a frame from in this round; 0: none
}

func (l *lockstep) round(out []float32, read func(c int) ([]float32, error), backlog func(c int) (int, bool)) error {
	for c := 0; c < 2; c++ {
		need := FrameSize
		if l.drop == c+1 {
			need++
		}
		for len(l.pend[c]) < need {
			b, err := read(c)
			if err != nil {
				return err
			}
			l.pend[c] = append(l.pend[c], b...)
		}
		if l.drop == c+1 {
			l.pend[c] = dropQuietest(l.pend[c], FrameSize+1)
			l.drift.dropped(c)
		}
		for i, v := range l.pend[c][:FrameSize] {
			out[2*i+c] = v
		}
		l.pend[c] = l.pend[c][:copy(l.pend[c], l.pend[c][FrameSize:])]
	}
	l.drop = 0
	b0, ok0 := backlog(0)
	b1, ok1 := backlog(1)
	if ok0 && ok1 {
		l.drop = l.drift.observe(b0+len(l.pend[0]), b1+len(l.pend[1])) + 1
	}
	return nil
}
