package pulsetest

import (
	"math"
	"os/exec"
	"path/filepath"
	"testing"
)

// Speech writes text spoken by espeak-ng as a 48 kHz mono 16-bit WAV
// (repeated times times) and returns its path.
func Speech(t testing.TB, text string, times int) string {
	t.Helper()
	dir := t.TempDir()
	raw, out := filepath.Join(dir, "raw.wav"), filepath.Join(dir, "speech48.wav")
	if b, err := exec.Command("espeak-ng", "-w", raw, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v %s", err, b)
	}
	args := []string{raw, "-r", "48000", "-c", "1", "-b", "16", out}
	if times > 1 {
		args = append(args, "repeat", itoa(times-1))
	}
	if b, err := exec.Command("sox", args...).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, b)
	}
	return out
}

func itoa(i int) string {
	b := []byte{}
	for ; i > 0 || len(b) == 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// Correlate finds b's best alignment to a (b may be delayed by up to the
// whole of b) and returns the normalised correlation there: an envelope
// search first, then every sample within ±2 ms.
func Correlate(a, b []float32) float64 {
	c, _ := AlignedCorrelation(a, b, len(b))
	return max(c, 0)
}

// AlignedCorrelation correlates a with b around their coarse lag (within
// ±maxLag samples) and returns the best normalised correlation within
// ±2 ms of it, and its lag.
func AlignedCorrelation(a, b []float32, maxLag int) (float64, int) {
	l := CoarseLag(a, b, maxLag)
	best, lag := -2.0, 0
	for d := -96; d <= 96; d++ {
		if c := CorrelationAt(a, b, l+d); c > best {
			best, lag = c, l+d
		}
	}
	return best, lag
}

// CoarseLag finds the lag of b relative to a (within ±maxLag samples) with
// an envelope correlation in 1 ms hops: fast, so a fine search needs only a
// narrow window around it. Only lags where b covers at least 90% of a
// count.
func CoarseLag(a, b []float32, maxLag int) int {
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

// CorrelationAt is the normalised correlation of a with b delayed by lag
// samples, over the part where they overlap (0 where either is silent).
func CorrelationAt(a, b []float32, lag int) float64 {
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
