// Command drift measures how far the two channels of a stereo recording
// drift apart: the same audio was played into both inputs, so the lag of
// right against left should stay where it started.
//
//	drift RECORDING.wav      (16-bit stereo PCM at 48 kHz: ffmpeg -ar 48000 -c:a pcm_s16le)
//
// It finds the lag (±50 ms, to the sample) in 10 s windows every minute and
// prints each and the change from the first to the last.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
)

const rate = 48000

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: drift RECORDING.wav")
		os.Exit(2)
	}
	l, r, err := readStereo(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "drift:", err)
		os.Exit(1)
	}
	const win = 10 * rate
	var first, last int
	n := 0
	for start := 0; start+win <= len(l); start += 60 * rate {
		lag, c := lagAt(l[start:start+win], r, start)
		if c < 0.5 {
			fmt.Printf("minute %2d: no common audio (correlation %.2f), skipped\n", start/(60*rate), c)
			continue
		}
		fmt.Printf("minute %2d: right lags left by %+d samples (%.3f ms), correlation %.3f\n", start/(60*rate), lag, float64(lag)*1000/rate, c)
		if n == 0 {
			first = lag
		}
		last = lag
		n++
	}
	if n < 2 {
		fmt.Fprintln(os.Stderr, "drift: fewer than two windows with common audio")
		os.Exit(1)
	}
	fmt.Printf("drift over %.1f min: %+d samples (%.3f ms)\n", float64(len(l))/rate/60, last-first, float64(last-first)*1000/rate)
}

// lagAt finds the lag d (|d| ≤ 50 ms) maximising the correlation of a with
// r[off+d:].
func lagAt(a, r []float32, off int) (int, float64) {
	best, bestD := -2.0, 0
	for d := -rate / 20; d <= rate/20; d++ {
		var sab, saa, sbb float64
		for i := 0; i < len(a); i += 2 { // every other sample: fast enough, still exact to the sample
			j := off + d + i
			if j < 0 || j >= len(r) {
				continue
			}
			x, y := float64(a[i]), float64(r[j])
			sab += x * y
			saa += x * x
			sbb += y * y
		}
		if saa == 0 || sbb == 0 {
			continue
		}
		if c := sab / math.Sqrt(saa*sbb); c > best {
			best, bestD = c, d
		}
	}
	return bestD, best
}

func readStereo(path string) (l, r []float32, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, nil, errors.New("not a WAV file")
	}
	p := b[12:]
	ch := 0
	for len(p) >= 8 {
		id, size := string(p[:4]), int(binary.LittleEndian.Uint32(p[4:8]))
		p = p[8:]
		if size > len(p) || size < 0 {
			size = len(p)
		}
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, nil, errors.New("short fmt chunk")
			}
			ch = int(binary.LittleEndian.Uint16(p[2:]))
			if ch != 2 || binary.LittleEndian.Uint32(p[4:]) != rate || binary.LittleEndian.Uint16(p[14:]) != 16 {
				return nil, nil, errors.New("need 16-bit stereo at 48 kHz")
			}
		case "data":
			if ch != 2 {
				return nil, nil, errors.New("data before fmt")
			}
			for i := 0; i+3 < size; i += 4 {
				l = append(l, float32(int16(binary.LittleEndian.Uint16(p[i:])))/32768)
				r = append(r, float32(int16(binary.LittleEndian.Uint16(p[i+2:])))/32768)
			}
			return l, r, nil
		}
		if size%2 == 1 && size < len(p) {
			size++
		}
		p = p[size:]
	}
	return nil, nil, errors.New("no data chunk")
}
