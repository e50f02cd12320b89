package audio

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

func readAllPCM(t *testing.T, s *pcmStream) []float32 {
	t.Helper()
	var out []float32
	buf := make([]byte, 4096)
	for {
		n, err := s.Read(buf)
		for i := 0; i+4 <= n; i += 4 {
			out = append(out, float32(int16(binary.LittleEndian.Uint16(buf[i:])))/32768)
		}
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestPlaybackStreamMatchesDecoder(t *testing.T) {
	stream := encodeTestStream(t, 3)
	want, err := DecodeOggOpus(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newPCMStream(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if s.frames() != int64(want.Frames()) || s.frames() != 3*SampleRate {
		t.Fatalf("stream has %d frames, decoder %d, want %d", s.frames(), want.Frames(), 3*SampleRate)
	}
	got := readAllPCM(t, s)
	ref := toFloat(want.Samples)
	if len(got) != len(ref) {
		t.Fatalf("played %d frames, decoded %d", len(got), len(ref))
	}
	for i := range got {
		if got[i] != ref[i] {
			t.Fatalf("frame %d differs from the decoder", i)
		}
	}
}

func TestPlaybackSeekLandsOnTheSample(t *testing.T) {
	stream := encodeTestStream(t, 5)
	want, _ := DecodeOggOpus(bytes.NewReader(stream))
	ref := toFloat(want.Samples)
	s, err := newPCMStream(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []int64{0, 1, 959, 960, 48000 + 123, 4 * SampleRate, 5*SampleRate - 10, 5 * SampleRate} {
		off, err := s.Seek(target*4, io.SeekStart)
		if err != nil || off != target*4 {
			t.Fatalf("Seek(%d) = %d, %v", target, off/4, err)
		}
		got := readAllPCM(t, s)
		if int64(len(got)) != 5*SampleRate-target {
			t.Fatalf("after seeking to %d: %d frames left, want %d", target, len(got), 5*SampleRate-target)
		}
		if len(got) > 4800 {
			// After 80 ms of pre-roll the decoder has converged: the audio
			// matches a straight decode.
			if r := correlationAt(ref[target:target+4800], got[:4800], 0); r < 0.99 {
				t.Fatalf("after seeking to %d the audio correlates %.4f with a straight decode", target, r)
			}
		}
	}
	if off, _ := s.Seek(1<<40, io.SeekStart); off != 5*SampleRate*4 {
		t.Fatalf("seek past the end gave %d", off)
	}
}

func TestOpusPacketFrames(t *testing.T) {
	cases := []struct {
		pkt  []byte
		want int
	}{
		{[]byte{0x08}, 960},         // SILK NB 20 ms, one frame
		{[]byte{0x0b<<3 | 1}, 5760}, // SILK 60 ms, two frames
		{[]byte{0x1f<<3 | 3, 0x06}, 5760},
		{[]byte{0x1f<<3 | 3, 0x07}, 0}, // 140 ms: too long
		{[]byte{0x1f<<3 | 3}, 0},       // missing frame count
		{nil, 0},
	}
	for _, c := range cases {
		if got := opusPacketFrames(c.pkt); got != c.want {
			t.Errorf("opusPacketFrames(%x) = %d, want %d", c.pkt, got, c.want)
		}
	}
}
