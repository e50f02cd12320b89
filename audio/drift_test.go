package audio

import (
	"fmt"
	"math"
	"testing"
)

// A simulated sound card: its own clock (ppm off 48 kHz), delivering
// frames in periods (like ALSA), into a buffer that overflows. Sample k's
// value is k modulo 2^22 (exact in a float32), so the frames handed on can
// be traced back to the moment each was captured.
type simCard struct {
	rate     float64
	period   int
	capacity int
	start    float64
	next     float64 // when the next period arrives
	k        int64   // next sample number
	buf      []float32
	overflow int
}

const simMask = 1<<22 - 1

func newSimCard(ppm float64, period int, start float64) *simCard {
	r := SampleRate * (1 + ppm*1e-6)
	return &simCard{rate: r, period: period, capacity: SampleRate / 2, start: start, next: start + float64(period)/r}
}

func (d *simCard) advance(now float64) {
	for d.next <= now {
		if len(d.buf)+d.period > d.capacity {
			d.overflow++
			d.k += int64(d.period)
		} else {
			for i := 0; i < d.period; i++ {
				d.buf = append(d.buf, float32(d.k&simMask))
				d.k++
			}
		}
		d.next += float64(d.period) / d.rate
	}
}

func (d *simCard) captured(k int64) float64 { return d.start + float64(k)/d.rate }

// unwrap turns a sample value back into its sample number, given the last.
func unwrap(v float32, last int64) int64 {
	delta := (int64(v) - last) & simMask
	return last + delta
}

type driftRun struct {
	maxDrift, endDrift float64 // ms, against the offset after the warm-up
	dropped            [2]int64
	overflows          int
}

// simulateDrift records minutes of simulated audio from two cards read in
// lock-step (as paSource.readStereo does), with or without compensation.
func simulateDrift(ppm0, ppm1 float64, minutes float64, compensate bool) driftRun {
	return simulateDriftPeriods(ppm0, ppm1, 480, 1024, minutes, compensate)
}

func simulateDriftPeriods(ppm0, ppm1 float64, period0, period1 int, minutes float64, compensate bool) driftRun {
	cards := []*simCard{newSimCard(ppm0, period0, 0), newSimCard(ppm1, period1, 0.08)}
	now := 0.0
	read := func(c int) ([]float32, error) {
		d := cards[c]
		for len(d.buf) < FrameSize {
			now = d.next
			cards[0].advance(now)
			cards[1].advance(now)
		}
		out := append([]float32(nil), d.buf[:FrameSize]...)
		d.buf = d.buf[:copy(d.buf, d.buf[FrameSize:])]
		return out, nil
	}
	backlog := func(c int) (int, bool) { return len(cards[c].buf), compensate }
	var ls lockstep
	out := make([]float32, 2*FrameSize)
	rounds := int(minutes * 60 * SampleRate / FrameSize)
	var last [2]int64
	var run driftRun
	base := math.NaN()
	for r := 0; r < rounds; r++ {
		if err := ls.round(out, read, backlog); err != nil {
			panic(err)
		}
		k0, k1 := unwrap(out[0], last[0]), unwrap(out[1], last[1])
		last[0], last[1] = unwrap(out[2*(FrameSize-1)], k0), unwrap(out[2*FrameSize-1], k1)
		off := (cards[0].captured(k0) - cards[1].captured(k1)) * 1000
		if r == warmupRounds {
			base = off
		}
		if r >= warmupRounds {
			run.endDrift = off - base
			run.maxDrift = math.Max(run.maxDrift, math.Abs(off-base))
		}
	}
	run.dropped = ls.drift.corrections()
	run.overflows = cards[0].overflow + cards[1].overflow
	return run
}

// TestDriftCompensationKeepsTwoClocksTogether: a microphone 200 ppm fast and
// a call input 150 ppm slow (and the other way round), 10 simulated
// minutes: uncompensated the channels drift 210 ms apart; compensated they
// stay within 4 ms of where they started (12 ms when the
// sound server delivers 100 ms at a time), by dropping frames of the faster
// one only, about as many as the clocks differ by.
func TestDriftCompensationKeepsTwoClocksTogether(t *testing.T) {
	for _, c := range []struct {
		ppm0, ppm1       float64
		period0, period1 int
		bound            float64 // ms
	}{
		{200, -150, 480, 1024, 4}, {-150, 200, 480, 1024, 4}, {0, 0, 480, 1024, 4},
		// The sound server hands a stream opened with half a second of
		// latency on 100 ms at a time: the backlog as measured jumps by 4800
		// frames, and the reads, paced by the cards, see it at nearly the
		// same phase for minutes. The offset is then known only to a few
		// periods of the reads: the bound is looser, but it stays bounded.
		{200, -150, 480, 4800, 12},
	} {
		t.Run(fmt.Sprintf("%+.0fppm_%+.0fppm_periods_%d_%d", c.ppm0, c.ppm1, c.period0, c.period1), func(t *testing.T) {
			with := simulateDriftPeriods(c.ppm0, c.ppm1, c.period0, c.period1, 10, true)
			t.Logf("after 10 min compensated: %.2f ms (worst %.2f ms); frames dropped %v; overflows %d",
				with.endDrift, with.maxDrift, with.dropped, with.overflows)
			if c.period1 == 1024 && c.ppm0 > c.ppm1 {
				// Once: the simulation itself drifts as the clocks do. The
				// faster input's frames are handed on ever later after capture.
				without := simulateDriftPeriods(c.ppm0, c.ppm1, c.period0, c.period1, 10, false)
				expect := -(c.ppm0 - c.ppm1) * 1e-6 * 600 * 1000 // ms the clocks part in 10 min
				t.Logf("uncompensated: %.2f ms (the clocks part by %.2f ms)", without.endDrift, expect)
				if math.Abs(without.endDrift-expect) > 2 {
					t.Fatalf("the simulation drifted %.2f ms uncompensated, the clocks part by %.2f ms", without.endDrift, expect)
				}
			}
			if with.maxDrift > c.bound {
				t.Fatalf("compensated, the channels drifted up to %.2f ms apart, want ≤ %.0f ms", with.maxDrift, c.bound)
			}
			if with.overflows != 0 {
				t.Fatalf("%d buffer overflows with compensation", with.overflows)
			}
			frames := (c.ppm0 - c.ppm1) * 1e-6 * 600 * SampleRate
			fast, slow := 0, 1
			if frames < 0 {
				fast, slow, frames = 1, 0, -frames
			}
			if with.dropped[slow] > int64(frames/10)+5 || math.Abs(float64(with.dropped[fast])-frames) > frames/10+10 {
				t.Fatalf("dropped %v frames, want about %.0f from input %d only", with.dropped, frames, fast)
			}
		})
	}
}

func TestDropQuietest(t *testing.T) {
	x := []float32{0.5, -0.4, 0.01, -0.3, 0.001, 0.2}
	got := dropQuietest(append([]float32(nil), x...), 4) // only the first 4 are looked at
	want := []float32{0.5, -0.4, -0.3, 0.001, 0.2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	if got := dropQuietest(nil, 3); len(got) != 0 {
		t.Fatal(got)
	}
}

// BenchmarkDriftTenMinutes reports the drift between two device clocks
// (+200 / −150 ppm) after 10 simulated minutes, without and with
// compensation (make bench).
func BenchmarkDriftTenMinutes(b *testing.B) {
	var without, with driftRun
	for i := 0; i < b.N; i++ {
		without = simulateDrift(200, -150, 10, false)
		with = simulateDrift(200, -150, 10, true)
	}
	b.ReportMetric(without.endDrift, "ms-drift-uncompensated")
	b.ReportMetric(with.endDrift, "ms-drift-compensated")
	b.ReportMetric(with.maxDrift, "ms-worst-compensated")
	b.ReportMetric(float64(with.dropped[0]+with.dropped[1]), "frames-dropped")
}
