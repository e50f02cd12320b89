// Command audiocheck compares a decoded recording with the audio that was
// played into the call, for the end-to-end tests and benchmarks.
//
//	audiocheck corr SOURCE.wav RECORDED.wav [MIN]   best normalised cross-correlation (exit 1 below MIN, default 0.9)
//	audiocheck dur FILE.wav                         duration in seconds
//
// Both files must be 16-bit PCM WAV at 48 kHz (ffmpeg -ac 1 -ar 48000 makes them).
// The recording may start earlier or later than the source; the best
// alignment within ±20 s is searched with a coarse envelope pass, then refined.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: audiocheck corr SOURCE.wav RECORDED.wav [MIN] | audiocheck dur FILE.wav")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "dur":
		x, err := readWAV(os.Args[2])
		if err != nil {
			fail(err)
		}
		fmt.Printf("%.3f\n", float64(len(x))/48000)
	case "corr":
		if len(os.Args) < 4 {
			fail(errors.New("corr needs SOURCE and RECORDED"))
		}
		min := 0.9
		if len(os.Args) > 4 {
			v, err := strconv.ParseFloat(os.Args[4], 64)
			if err != nil {
				fail(err)
			}
			min = v
		}
		src, err := readWAV(os.Args[2])
		if err != nil {
			fail(err)
		}
		rec, err := readWAV(os.Args[3])
		if err != nil {
			fail(err)
		}
		c, lag := best(src, rec)
		fmt.Printf("correlation %.4f at lag %.3f s\n", c, float64(lag)/48000)
		if c < min {
			fmt.Fprintf(os.Stderr, "audiocheck: correlation %.4f is below %.2f\n", c, min)
			os.Exit(1)
		}
	default:
		fail(fmt.Errorf("unknown mode %q", os.Args[1]))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "audiocheck:", err)
	os.Exit(2)
}

func readWAV(path string) ([]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%s: not a WAV file", path)
	}
	var ch, bits int
	for off := 12; off+8 <= len(b); {
		id := string(b[off : off+4])
		n := int(binary.LittleEndian.Uint32(b[off+4:]))
		body := b[off+8:]
		if n > len(body) || n < 0 {
			n = len(body)
		}
		switch id {
		case "fmt ":
			if n < 16 {
				return nil, fmt.Errorf("%s: short fmt chunk", path)
			}
			ch = int(binary.LittleEndian.Uint16(body[2:]))
			if sr := binary.LittleEndian.Uint32(body[4:]); sr != 48000 {
				return nil, fmt.Errorf("%s: %d Hz, want 48000", path, sr)
			}
			bits = int(binary.LittleEndian.Uint16(body[14:]))
		case "data":
			if bits != 16 || ch < 1 {
				return nil, fmt.Errorf("%s: want 16-bit PCM", path)
			}
			frames := n / (2 * ch)
			out := make([]float64, frames)
			for i := 0; i < frames; i++ {
				out[i] = float64(int16(binary.LittleEndian.Uint16(body[2*ch*i:]))) / 32768
			}
			return out, nil
		}
		off += 8 + n + n%2
	}
	return nil, fmt.Errorf("%s: no data chunk", path)
}

// best returns the highest normalised correlation of src against rec over
// lags in ±20 s (rec[i+lag] ~ src[i]).
func best(src, rec []float64) (float64, int) {
	const dec = 48 // 1 ms envelope resolution for the coarse pass
	env := func(x []float64) []float64 {
		out := make([]float64, len(x)/dec)
		for i := range out {
			var s float64
			for _, v := range x[i*dec : (i+1)*dec] {
				s += math.Abs(v)
			}
			out[i] = s
		}
		return out
	}
	es, er := env(src), env(rec)
	maxLag := 20000
	bestLag, bestC := 0, math.Inf(-1)
	for lag := -maxLag; lag <= maxLag; lag++ {
		if c := corrAt(es, er, lag); c > bestC {
			bestC, bestLag = c, lag
		}
	}
	lo, hi := (bestLag-3)*dec, (bestLag+3)*dec
	bc, bl := math.Inf(-1), 0
	for lag := lo; lag <= hi; lag++ {
		if c := corrAt(src, rec, lag); c > bc {
			bc, bl = c, lag
		}
	}
	return bc, bl
}

// corrAt is the normalised correlation of a against b shifted by lag, over
// their overlap; overlaps shorter than 80% of a don't count (a few
// overlapping samples correlate by chance).
func corrAt(a, b []float64, lag int) float64 {
	var sab, saa, sbb float64
	n := 0
	for i := range a {
		j := i + lag
		if j < 0 || j >= len(b) {
			continue
		}
		n++
		sab += a[i] * b[j]
		saa += a[i] * a[i]
		sbb += b[j] * b[j]
	}
	if n*5 < len(a)*4 || saa == 0 || sbb == 0 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}
