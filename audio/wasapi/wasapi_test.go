package wasapi

import (
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

func le16(v ...int16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(x))
	}
	return b
}

func lef32(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// TestDownmix: every format the output device may use becomes mono float in
// [-1, 1]; a partial trailing frame and a NaN from a broken driver do not
// get through.
func TestDownmix(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		name string
		src  []byte
		ch   int
		f    sampleFormat
		want []float32
	}{
		{"float stereo", lef32(0.5, -0.5, 1, 0.5), 2, float32LE, []float32{0, 0.75}},
		{"float mono clipped", lef32(2, -3), 1, float32LE, []float32{1, -1}},
		{"float NaN", lef32(nan, nan), 2, float32LE, []float32{0}},
		{"int16 stereo", le16(16384, 16384, -32768, -32768), 2, int16LE, []float32{0.5, -1}},
		{"int16 partial frame", append(le16(16384, 16384), 1), 2, int16LE, []float32{0.5}},
		{"int32 mono", lef32(0)[:0:0], 1, int32LE, nil},
		{"no channels", lef32(1), 0, float32LE, nil},
	} {
		got := downmix(nil, c.src, c.ch, c.f)
		if len(got) != len(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
			continue
		}
		for i := range got {
			if math.Abs(float64(got[i]-c.want[i])) > 1e-6 {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
	b := make([]byte, 8)
	binary.LittleEndian.PutUint32(b, uint32(0x40000000)) // +0.5 in int32
	binary.LittleEndian.PutUint32(b[4:], 0x80000000)     // -1
	if got := downmix(nil, b, 1, int32LE); len(got) != 2 || got[0] != 0.5 || got[1] != -1 {
		t.Errorf("int32: %v, want [0.5 -1]", got)
	}
}

// TestQueuePadsSilenceAndBoundsDelay: a Read with too little captured (the
// output played nothing) returns what there is followed by silence after
// the wait; a stalled reader makes the queue drop the oldest audio instead
// of growing; a capture error reaches Read.
func TestQueuePadsSilenceAndBoundsDelay(t *testing.T) {
	q := newQueue()
	q.push([]float32{0.25, 0.5})
	out := []float32{9, 9, 9, 9}
	if err := q.read(out, 5*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if out[0] != 0.25 || out[1] != 0.5 || out[2] != 0 || out[3] != 0 {
		t.Fatalf("read %v, want [0.25 0.5 0 0]", out)
	}

	go func() {
		time.Sleep(10 * time.Millisecond)
		q.push([]float32{1, 1, 1, 1})
	}()
	if err := q.read(out, 10*time.Second); err != nil || out[3] != 1 {
		t.Fatalf("a read waiting for data: %v, %v", out, err)
	}

	q.push(make([]float32, maxQueued+FrameSize))
	if q.dropped != FrameSize || len(q.buf) != maxQueued {
		t.Fatalf("queued %d, dropped %d; want %d and %d", len(q.buf), q.dropped, maxQueued, FrameSize)
	}
	boom := errors.New("the output device was removed")
	q.fail(boom)
	if err := q.read(out, time.Second); !errors.Is(err, boom) {
		t.Fatalf("read after a capture error: %v", err)
	}
}

// TestBadInputGetsClearError_LoopbackOpensOrSaysWhy: Open either captures
// the default output (Windows) or says in plain words why it cannot: off
// Windows, and under Wine 8, which has no WASAPI loopback.
func TestBadInputGetsClearError_LoopbackOpensOrSaysWhy(t *testing.T) {
	l, err := Open()
	if err != nil {
		msg := err.Error()
		if runtime.GOOS != "windows" && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("off Windows Open = %v, want ErrUnsupported", err)
		}
		if !strings.Contains(msg, "loopback") && !strings.Contains(msg, "output") {
			t.Fatalf("Open failed without saying what: %q", msg)
		}
		t.Logf("no loopback here: %v", err)
		return
	}
	defer l.Close()
	buf := make([]float32, FrameSize)
	for i := 0; i < 5; i++ {
		if err := l.Read(buf); err != nil {
			t.Fatalf("Read %d: %v", i, err)
		}
		for _, v := range buf {
			if v < -1 || v > 1 || v != v {
				t.Fatalf("sample %v out of range", v)
			}
		}
	}
	l.Close()
	if err := l.Read(buf); err == nil {
		t.Fatal("Read after Close succeeded")
	}
}

// FuzzDownmix: whatever bytes a sound driver hands over, downmix gives one
// sample per whole frame, each in [-1, 1] and never NaN, and never panics.
func FuzzDownmix(f *testing.F) {
	f.Add(lef32(0.5, -0.5, 1, 0.5), uint8(2), uint8(1))
	f.Add(le16(16384, -32768, 7), uint8(1), uint8(2))
	f.Add([]byte{0xff, 0xff, 0xc0, 0x7f, 0, 0, 0x80, 0x7f}, uint8(1), uint8(1)) // NaN, +Inf
	f.Fuzz(func(t *testing.T, src []byte, channels, format uint8) {
		ch := int(channels % 9)
		sf := sampleFormat(format%3 + 1)
		got := downmix(nil, src, ch, sf)
		want := 0
		if ch > 0 {
			want = len(src) / (ch * sf.bytes())
		}
		if len(got) != want {
			t.Fatalf("%d samples from %d bytes of %d channels, want %d", len(got), len(src), ch, want)
		}
		for _, v := range got {
			if v != v || v < -1 || v > 1 {
				t.Fatalf("sample %v out of [-1, 1]", v)
			}
		}
	})
}
