package audio

import (
	"bytes"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// memSink is a SegmentSink in memory: segments[i] is what was written
// between two seals.
type memSink struct {
	mu       sync.Mutex
	segments [][]byte
	cur      bytes.Buffer
	pages    int
	closed   bool
	failAt   int // fail WritePage number failAt (1-based); 0 = never
}

func (s *memSink) WritePage(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("write after close")
	}
	s.pages++
	if s.failAt > 0 && s.pages == s.failAt {
		return errors.New("disk full")
	}
	s.cur.Write(p)
	return nil
}

func (s *memSink) Seal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur.Len() > 0 {
		s.segments = append(s.segments, bytes.Clone(s.cur.Bytes()))
		s.cur.Reset()
	}
	return nil
}

func (s *memSink) Close() error {
	if err := s.Seal(); err != nil {
		return err
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

func (s *memSink) all() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Join(s.segments, nil)
}

// openGate admits everything.
type openGate struct{}

func (openGate) Admit(int) bool { return true }

func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (scripts/deps.sh installs it)", name)
	}
	return p
}

func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// ffmpegDecode decodes any file ffmpeg reads to mono 48 kHz samples.
func ffmpegDecode(t testing.TB, path string, channels int) []float32 {
	t.Helper()
	needTool(t, "ffmpeg")
	out := filepath.Join(t.TempDir(), "dec.wav")
	cmd := exec.Command("ffmpeg", "-v", "error", "-y", "-i", path, "-ac", itoa(channels), "-ar", "48000", "-c:a", "pcm_s16le", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg could not decode %s: %v\n%s", path, err, b)
	}
	s, ch, err := ReadWAV(out)
	if err != nil {
		t.Fatal(err)
	}
	if ch != channels {
		t.Fatalf("ffmpeg gave %d channels, want %d", ch, channels)
	}
	return s
}

func itoa(i int) string {
	return string(rune('0' + i))
}

// bestCorrelation returns the largest normalised cross-correlation of a
// and b over lags 0..maxLag samples (b delayed relative to a), and the lag.
func bestCorrelation(a, b []float32, maxLag int) (float64, int) {
	best, bestLag := -2.0, 0
	for lag := -maxLag; lag <= maxLag; lag += 1 {
		var sab, saa, sbb float64
		for i := range a {
			j := i + lag
			if j < 0 || j >= len(b) {
				continue
			}
			x, y := float64(a[i]), float64(b[j])
			sab += x * y
			saa += x * x
			sbb += y * y
		}
		if saa == 0 || sbb == 0 {
			continue
		}
		if c := sab / math.Sqrt(saa*sbb); c > best {
			best, bestLag = c, lag
		}
	}
	return best, bestLag
}

// coarseLag finds the lag of b relative to a with an envelope correlation
// (fast), so alignedCorrelation can search a narrow window around it. Only
// lags where b covers at least 90% of a count.
func coarseLag(a, b []float32, maxLag int) int {
	const hop = 48
	env := func(x []float32) []float64 {
		out := make([]float64, len(x)/hop)
		for i := range out {
			var s float64
			for _, v := range x[i*hop : (i+1)*hop] {
				s += float64(v) * float64(v)
			}
			out[i] = math.Sqrt(s)
		}
		return out
	}
	ea, eb := env(a), env(b)
	best, bestLag := -2.0, 0
	for lag := -maxLag / hop; lag <= maxLag/hop; lag++ {
		var sab, saa, sbb float64
		n := 0
		for i := range ea {
			j := i + lag
			if j < 0 || j >= len(eb) {
				continue
			}
			n++
			sab += ea[i] * eb[j]
			saa += ea[i] * ea[i]
			sbb += eb[j] * eb[j]
		}
		if n < len(ea)*9/10 || saa == 0 || sbb == 0 {
			continue
		}
		if c := sab / math.Sqrt(saa*sbb); c > best {
			best, bestLag = c, lag
		}
	}
	return bestLag * hop
}

// toneSeen is the largest power of frequency hz in any 50 ms window of x.
func toneSeen(x []float32, hz float64) float64 {
	best := 0.0
	for i := 0; i+2400 <= len(x); i += 1200 {
		best = max(best, goertzel(x[i:i+2400], hz))
	}
	return best
}

// alignedCorrelation correlates a with b around their coarse lag.
func alignedCorrelation(a, b []float32, maxLag int) (float64, int) {
	l := coarseLag(a, b, maxLag)
	best, lag := -2.0, 0
	for d := -96; d <= 96; d++ {
		c := correlationAt(a, b, l+d)
		if c > best {
			best, lag = c, l+d
		}
	}
	return best, lag
}

func correlationAt(a, b []float32, lag int) float64 {
	var sab, saa, sbb float64
	for i := range a {
		j := i + lag
		if j < 0 || j >= len(b) {
			continue
		}
		x, y := float64(a[i]), float64(b[j])
		sab += x * y
		saa += x * x
		sbb += y * y
	}
	if saa == 0 || sbb == 0 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

func toFloat(s []int16) []float32 {
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = float32(v) / 32768
	}
	return out
}

func energy(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	if len(x) == 0 {
		return 0
	}
	return s / float64(len(x))
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goertzel returns the mean power of x at frequency hz.
func goertzel(x []float32, hz float64) float64 {
	w := 2 * math.Cos(2*math.Pi*hz/SampleRate)
	var s1, s2 float64
	for _, v := range x {
		s := float64(v) + w*s1 - s2
		s2, s1 = s1, s
	}
	p := s1*s1 + s2*s2 - w*s1*s2
	return p / float64(len(x)) / float64(len(x))
}

// soxWAV makes a 48 kHz mono WAV with sox's synth (music, silence).
func soxWAV(t *testing.T, name string, synth ...string) (string, []float32) {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	args := append([]string{"-n", "-r", "48000", "-c", "1", "-b", "16", out, "synth"}, synth...)
	if b, err := exec.Command("sox", args...).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, b)
	}
	s, _, err := ReadWAV(out)
	if err != nil {
		t.Fatal(err)
	}
	return out, s
}
