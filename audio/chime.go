package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Chime is a short sound that tells everyone on a call what the recorder does.
type Chime int

const (
	ChimeStart  Chime = iota // recording started: rising two-tone
	ChimePause               // recording paused: the same tone twice
	ChimeResume              // recording resumed: rising two-tone, shorter
	ChimeStop                // recording stopped: falling two-tone
)

// Beep is the periodic reminder tone: 1400 Hz for 0.5 s.
const (
	BeepHz       = 1400
	BeepDuration = 500 * time.Millisecond
	// BeepEvery is the default interval of the periodic beep.
	BeepEvery = 15 * time.Second
)

type note struct {
	hz  float64
	dur time.Duration
}

func (c Chime) notes() []note {
	switch c {
	case ChimeStart:
		return []note{{659.25, 180 * time.Millisecond}, {987.77, 260 * time.Millisecond}} // E5 → B5
	case ChimePause:
		return []note{{783.99, 150 * time.Millisecond}, {783.99, 150 * time.Millisecond}} // G5, G5
	case ChimeResume:
		return []note{{659.25, 120 * time.Millisecond}, {987.77, 180 * time.Millisecond}}
	case ChimeStop:
		return []note{{987.77, 180 * time.Millisecond}, {659.25, 260 * time.Millisecond}} // B5 → E5
	}
	return nil
}

// ChimePCM synthesises chime c as mono 48 kHz samples in [-1, 1]: bell-like
// notes (a sine with a soft octave partial, fast attack, exponential decay)
// at about -10 dBFS.
func ChimePCM(c Chime) []float32 {
	var out []float32
	for _, n := range c.notes() {
		k := int(durationToFrames(n.dur))
		for i := 0; i < k; i++ {
			t := float64(i) / SampleRate
			env := math.Min(1, t/0.005) * math.Exp(-t*9)
			v := math.Sin(2*math.Pi*n.hz*t) + 0.25*math.Sin(2*math.Pi*2*n.hz*t)
			out = append(out, float32(0.3*env*v))
		}
	}
	return out
}

// BeepPCM synthesises the periodic reminder beep (1400 Hz, 0.5 s, 10 ms
// fades) as mono 48 kHz samples.
func BeepPCM() []float32 {
	k := int(durationToFrames(BeepDuration))
	fade := SampleRate / 100
	out := make([]float32, k)
	for i := range out {
		env := math.Min(1, math.Min(float64(i), float64(k-1-i))/float64(fade))
		out[i] = float32(0.25 * env * math.Sin(2*math.Pi*BeepHz*float64(i)/SampleRate))
	}
	return out
}

// playMono plays mono samples through the process's oto context and waits
// until they have been played or ctx is done.
func playMono(ctx context.Context, s []float32) error {
	out, err := output()
	if err != nil {
		return err
	}
	b := make([]byte, 4*len(s))
	for i, v := range s {
		x := uint16(int16(math.Round(float64(v) * 32767)))
		binary.LittleEndian.PutUint16(b[4*i:], x)
		binary.LittleEndian.PutUint16(b[4*i+2:], x)
	}
	p := out.NewPlayer(bytes.NewReader(b))
	p.Play()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for p.IsPlaying() {
		select {
		case <-ctx.Done():
			p.Pause()
			return ctx.Err()
		case <-t.C:
		}
	}
	if err := p.Err(); err != nil {
		return fmt.Errorf("audio: playing a chime: %w", err)
	}
	return nil
}

// PlayChime plays chime c and returns when it has been heard.
func PlayChime(ctx context.Context, c Chime) error {
	return playMono(ctx, ChimePCM(c))
}

// RunBeeper plays the reminder beep every interval (BeepEvery if 0) until
// ctx is done. It returns the first playback error, or nil when ctx ends.
func RunBeeper(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = BeepEvery
	}
	beep := BeepPCM()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := playMono(ctx, beep); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
}
