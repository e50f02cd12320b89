package audio

import (
	"math"
	"sync/atomic"
)

// Level is the loudness of one channel over the last buffer, in dBFS
// (0 = full scale; silence is -120 or lower).
type Level struct {
	RMS  float64
	Peak float64
}

// SilenceDB is the level reported for digital silence.
const SilenceDB = -120.0

// Meters holds the live levels of each channel. The capture goroutine
// stores, the UI loads; both without locks. Levels are for display only and
// are never stored or logged.
type Meters struct {
	ch   []meterChan
	side *silentSide // stereo: the silent-side rule
}

type meterChan struct {
	rms, peak atomic.Uint64 // float64 bits
}

// NewMeters returns meters for n channels, all at silence.
func NewMeters(n int) *Meters {
	m := &Meters{ch: make([]meterChan, n)}
	if n == 2 {
		m.side = &silentSide{}
	}
	for i := range m.ch {
		m.ch[i].rms.Store(math.Float64bits(SilenceDB))
		m.ch[i].peak.Store(math.Float64bits(SilenceDB))
	}
	return m
}

// Channels is the number of channels metered.
func (m *Meters) Channels() int { return len(m.ch) }

// Level returns the latest level of channel c.
func (m *Meters) Level(c int) Level {
	return Level{
		RMS:  math.Float64frombits(m.ch[c].rms.Load()),
		Peak: math.Float64frombits(m.ch[c].peak.Load()),
	}
}

// Levels returns the latest level of every channel.
func (m *Meters) Levels() []Level {
	out := make([]Level, len(m.ch))
	for i := range out {
		out[i] = m.Level(i)
	}
	return out
}

// measure updates the meters from one interleaved buffer.
func (m *Meters) measure(buf []float32) {
	n := len(m.ch)
	if n == 0 {
		return
	}
	frames := len(buf) / n
	if frames == 0 {
		return
	}
	var rms [2]float64
	for c := 0; c < n; c++ {
		var sum, peak float64
		for i := c; i < len(buf); i += n {
			v := float64(buf[i])
			sum += v * v
			if a := math.Abs(v); a > peak {
				peak = a
			}
		}
		r := toDB(math.Sqrt(sum / float64(frames)))
		if c < 2 {
			rms[c] = r
		}
		m.ch[c].rms.Store(math.Float64bits(r))
		m.ch[c].peak.Store(math.Float64bits(toDB(peak)))
	}
	if m.side != nil {
		m.side.add(rms)
	}
}

func toDB(v float64) float64 {
	if v <= 1e-6 {
		return SilenceDB
	}
	return 20 * math.Log10(v)
}
