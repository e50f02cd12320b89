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

	"github.com/assent-app/assent/internal/pulsetest"
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
	for lag := -maxLag; lag <= maxLag; lag++ {
		if c := correlationAt(a, b, lag); c != 0 && c > best {
			best, bestLag = c, lag
		}
	}
	return best, bestLag
}

// coarseLag, alignedCorrelation and correlationAt: the one implementation
// in internal/pulsetest (the CLI's real tests use it too).
func coarseLag(a, b []float32, maxLag int) int { return pulsetest.CoarseLag(a, b, maxLag) }

// toneSeen is the largest power of frequency hz in any 50 ms window of x.
func toneSeen(x []float32, hz float64) float64 {
	best := 0.0
	for i := 0; i+2400 <= len(x); i += 1200 {
		best = max(best, goertzel(x[i:i+2400], hz))
	}
	return best
}

func alignedCorrelation(a, b []float32, maxLag int) (float64, int) {
	return pulsetest.AlignedCorrelation(a, b, maxLag)
}

func correlationAt(a, b []float32, lag int) float64 { return pulsetest.CorrelationAt(a, b, lag) }

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
