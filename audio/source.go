package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// A Source delivers captured audio at 48 kHz in buffers of FrameSize frames.
type Source interface {
	// Channels is 1 (microphone) or 2 (left = microphone, right = call).
	Channels() int
	// Start begins capture. Read blocks until a buffer is available.
	Start() error
	// Read fills buf (exactly FrameSize × Channels interleaved samples in
	// [-1, 1]). It returns io.EOF when a finite source is exhausted and an
	// error in plain words when the device fails.
	Read(buf []float32) error
	// Close stops capture and releases the device. The pipeline calls it
	// after its last Read (a Read returns within one buffer, 20 ms).
	Close() error
}

// PCMSource plays back fixed interleaved samples as a Source, in real time
// or as fast as it is read. For tests, benchmarks and file input.
type PCMSource struct {
	ch      int
	samples []float32
	pos     int
	loop    bool
	closed  bool
}

// NewPCMSource returns a Source that yields samples (interleaved, ch
// channels) once, padding the last buffer with silence, then io.EOF. With
// loop it starts over instead of ending.
func NewPCMSource(samples []float32, ch int, loop bool) *PCMSource {
	return &PCMSource{ch: ch, samples: samples, loop: loop}
}

// Channels implements Source.
func (s *PCMSource) Channels() int { return s.ch }

// Start implements Source.
func (s *PCMSource) Start() error { return nil }

// Close implements Source.
func (s *PCMSource) Close() error { s.closed = true; return nil }

// Read implements Source.
func (s *PCMSource) Read(buf []float32) error {
	if s.closed {
		return errors.New("audio: source closed")
	}
	if len(buf) != FrameSize*s.ch {
		return fmt.Errorf("audio: read buffer of %d samples, want %d", len(buf), FrameSize*s.ch)
	}
	if s.pos >= len(s.samples) {
		if !s.loop || len(s.samples) == 0 {
			return io.EOF
		}
		s.pos = 0
	}
	n := copy(buf, s.samples[s.pos:])
	s.pos += n
	for n < len(buf) {
		if s.loop && len(s.samples) > 0 {
			m := copy(buf[n:], s.samples)
			s.pos = m
			n += m
			continue
		}
		buf[n] = 0
		n++
	}
	return nil
}

// SpeechLike synthesises d seconds of a speech-like test signal at 48 kHz
// mono: voiced "syllables" (a 110–220 Hz glottal pulse train shaped by three
// formants) separated by short pauses, with a little noise. It is
// deterministic for a given seed.
func SpeechLike(seconds float64, seed uint32) []float32 {
	n := int(seconds * SampleRate)
	out := make([]float32, n)
	rng := seed*2654435761 + 1
	rnd := func() float64 {
		rng ^= rng << 13
		rng ^= rng >> 17
		rng ^= rng << 5
		return float64(rng)/float64(math.MaxUint32)*2 - 1
	}
	type res struct{ y1, y2, a1, a2, g float64 }
	formant := func(f, bw float64) res {
		r := math.Exp(-math.Pi * bw / SampleRate)
		return res{a1: 2 * r * math.Cos(2*math.Pi*f/SampleRate), a2: -r * r, g: 1 - r}
	}
	vowels := [][3]float64{{730, 1090, 2440}, {270, 2290, 3010}, {300, 870, 2240}, {530, 1840, 2480}, {570, 840, 2410}}
	i := 0
	for i < n {
		syl := int((0.12 + 0.2*(rnd()+1)/2) * SampleRate)
		pause := int((0.03 + 0.15*(rnd()+1)/2) * SampleRate)
		v := vowels[int((rnd()+1)/2*float64(len(vowels)))%len(vowels)]
		f0 := 110 + 110*(rnd()+1)/2
		fs := [3]res{formant(v[0], 80), formant(v[1], 100), formant(v[2], 120)}
		phase := 0.0
		for k := 0; k < syl && i < n; k, i = k+1, i+1 {
			env := math.Sin(math.Pi * float64(k) / float64(syl))
			phase += f0 * (1 + 0.05*math.Sin(2*math.Pi*3*float64(k)/SampleRate)) / SampleRate
			x := 0.0
			if phase >= 1 {
				phase--
				x = 1
			}
			x += 0.02 * rnd()
			y := 0.0
			for j := range fs {
				f := &fs[j]
				o := f.g*x + f.a1*f.y1 + f.a2*f.y2
				f.y2, f.y1 = f.y1, o
				y += o
			}
			out[i] = float32(0.5 * env * y)
		}
		for k := 0; k < pause && i < n; k, i = k+1, i+1 {
			out[i] = float32(0.002 * rnd())
		}
	}
	// Speech energy sits below 4 kHz: two one-pole low-pass passes at 3.5 kHz.
	a := math.Exp(-2 * math.Pi * 3500 / SampleRate)
	for pass := 0; pass < 2; pass++ {
		y := 0.0
		for i, v := range out {
			y = (1-a)*float64(v) + a*y
			out[i] = float32(y)
		}
	}
	// Normalise to a peak of -6 dBFS.
	peak := float32(0)
	for _, v := range out {
		if v > peak {
			peak = v
		} else if -v > peak {
			peak = -v
		}
	}
	if peak > 0 {
		g := 0.5 / peak
		for i := range out {
			out[i] *= g
		}
	}
	return out
}

// ReadWAV reads a 16-bit PCM WAV file at 48 kHz and returns its interleaved
// samples in [-1, 1] and its channel count.
func ReadWAV(path string) ([]float32, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	return parseWAV(b)
}

func parseWAV(b []byte) ([]float32, int, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, errors.New("audio: not a WAV file (no RIFF/WAVE header)")
	}
	var ch, bits int
	var rate uint32
	p := b[12:]
	for len(p) >= 8 {
		id := string(p[:4])
		size := int(binary.LittleEndian.Uint32(p[4:8]))
		p = p[8:]
		if size < 0 || size > len(p) {
			size = len(p)
		}
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, 0, errors.New("audio: WAV fmt chunk too short")
			}
			format := binary.LittleEndian.Uint16(p)
			ch = int(binary.LittleEndian.Uint16(p[2:]))
			rate = binary.LittleEndian.Uint32(p[4:])
			bits = int(binary.LittleEndian.Uint16(p[14:]))
			if (format != 1 && format != 0xfffe) || bits != 16 {
				return nil, 0, fmt.Errorf("audio: WAV must be 16-bit PCM (format %d, %d bits)", format, bits)
			}
			if rate != SampleRate {
				return nil, 0, fmt.Errorf("audio: WAV is %d Hz; convert it to 48000 Hz (sox in.wav -r 48000 out.wav)", rate)
			}
			if ch < 1 || ch > 2 {
				return nil, 0, fmt.Errorf("audio: WAV has %d channels; only mono and stereo are supported", ch)
			}
		case "data":
			if ch == 0 {
				return nil, 0, errors.New("audio: WAV data before its fmt chunk")
			}
			n := size / 2
			out := make([]float32, n-n%ch)
			for i := range out {
				out[i] = float32(int16(binary.LittleEndian.Uint16(p[2*i:]))) / 32768
			}
			return out, ch, nil
		}
		if size%2 == 1 && size < len(p) {
			size++
		}
		p = p[size:]
	}
	return nil, 0, errors.New("audio: WAV file has no data chunk")
}
