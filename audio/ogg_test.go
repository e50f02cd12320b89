package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

func TestOggCRCKnownVector(t *testing.T) {
	// CRC-32 with polynomial 0x04c11db7, init 0, no reflection, no final
	// XOR: the catalogue's CRC-32/CKSUM check value 0x765e7680 without its
	// final XOR 0xffffffff.
	if got := oggCRC(0, []byte("123456789")); got != 0x89a1897f {
		t.Fatalf("oggCRC(123456789) = %#x, want 0x89a1897f", got)
	}
}

func TestOggCRCMatchesLibogg(t *testing.T) {
	needTool(t, "ffmpeg")
	// Pages written by ffmpeg's muxer must pass our CRC check.
	dir := t.TempDir()
	out := dir + "/ref.opus"
	cmd := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-ar", "48000", "-c:a", "libopus", "-b:a", "24k", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("ffmpeg cannot make an Opus reference file here: %v %s", err, b)
	}
	f := readFile(t, out)
	r := NewOggReader(bytes.NewReader(f))
	pages := 0
	for {
		_, err := r.ReadPage()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("page %d of ffmpeg's file: %v", pages, err)
		}
		pages++
	}
	if pages < 3 {
		t.Fatalf("only %d pages read from ffmpeg's file", pages)
	}
	pcm, err := DecodeOggOpus(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	if d := pcm.Frames(); d < 95000 || d > 97000 {
		t.Fatalf("decoded %d frames of ffmpeg's 2 s file", d)
	}
}

func TestOggMuxerPageLayout(t *testing.T) {
	m := NewOggMuxer(0xdeadbeef)
	hdr, err := m.OpusHeaderPages(1, DefaultPreSkip)
	if err != nil {
		t.Fatal(err)
	}
	var pages [][]byte
	g := int64(DefaultPreSkip)
	sizes := []int{10, 254, 255, 256, 600, 1275, 0, 3}
	for i := 0; i < 120; i++ {
		g += FrameSize
		pkt := bytes.Repeat([]byte{byte(i)}, sizes[i%len(sizes)])
		full, err := m.WritePacket(pkt, g)
		if err != nil {
			t.Fatal(err)
		}
		if full != nil {
			pages = append(pages, full)
		}
		if m.Pending() == 50 {
			pages = append(pages, m.Flush(false))
		}
	}
	pages = append(pages, m.Flush(true))
	if m.Flush(true) != nil {
		t.Fatal("Flush after EOS returned a page")
	}
	stream := append(bytes.Clone(hdr), bytes.Join(pages, nil)...)

	r := NewOggReader(bytes.NewReader(stream))
	var seq uint32
	var got []*OggPage
	for {
		p, err := r.ReadPage()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Seq != seq || p.Serial != 0xdeadbeef {
			t.Fatalf("page seq %d serial %#x, want %d %#x", p.Seq, p.Serial, seq, 0xdeadbeef)
		}
		seq++
		got = append(got, p)
	}
	if got[0].Flags != oggBOS || got[0].Granule != 0 || got[1].Flags != 0 || got[1].Granule != 0 {
		t.Fatalf("header pages: flags %d/%d granules %d/%d", got[0].Flags, got[1].Flags, got[0].Granule, got[1].Granule)
	}
	last := got[len(got)-1]
	if last.Flags != oggEOS {
		t.Fatalf("last page flags %#x, want EOS", last.Flags)
	}
	if last.Granule != g {
		t.Fatalf("last granule %d, want %d", last.Granule, g)
	}
	// Every packet comes back intact with the granule of its page.
	or, err := NewOpusReader(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 120; i++ {
		pkt, pg, err := or.ReadPacket()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		want := bytes.Repeat([]byte{byte(i)}, sizes[i%len(sizes)])
		if !bytes.Equal(pkt, want) {
			t.Fatalf("packet %d: %d bytes, want %d", i, len(pkt), len(want))
		}
		if (i+1)%50 == 0 || i == 119 {
			if pg != int64(DefaultPreSkip+(i+1)*FrameSize) {
				t.Fatalf("packet %d ends a page; granule %d, want %d", i, pg, DefaultPreSkip+(i+1)*FrameSize)
			}
		} else if pg != -1 {
			t.Fatalf("packet %d does not end its page but carries granule %d", i, pg)
		}
	}
	if _, _, err := or.ReadPacket(); err != io.EOF {
		t.Fatalf("after the last packet: %v, want io.EOF", err)
	}
}

func TestOggMuxerFullPageSpillsOver(t *testing.T) {
	// 1275-byte packets take 6 lacing values each: 42 fit in 255 segments.
	m := NewOggMuxer(1)
	if _, err := m.OpusHeaderPages(2, DefaultPreSkip); err != nil {
		t.Fatal(err)
	}
	var full []byte
	n := 0
	for full == nil {
		var err error
		full, err = m.WritePacket(make([]byte, 1275), int64(n))
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 43 || full[26] != 42*6 {
		t.Fatalf("page filled after %d packets with %d segments; want 43 and 252", n, full[26])
	}
	if m.Pending() != 1 {
		t.Fatalf("%d packets pending after spill, want 1", m.Pending())
	}
	if _, err := m.WritePacket(make([]byte, maxOggPacket+1), 0); err == nil {
		t.Fatal("an oversize packet was accepted")
	}
}

func TestBadInputGetsClearError_OggReader(t *testing.T) {
	good := encodeTestStream(t, 3)
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"empty":     {nil, "empty"},
		"not ogg":   {[]byte("RIFF....WAVEfmt "), "OggS"},
		"bad crc":   {flipByte(good, 200), "checksum"},
		"truncated": {good[:len(good)-7], "middle of a page"},
		"not opus":  {vorbisLike(), "OpusHead"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeOggOpus(bytes.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestTruncatedStreamDecodesUpToLastWholePage(t *testing.T) {
	good := encodeTestStream(t, 5)
	full, err := DecodeOggOpus(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	cut, err := DecodeOggOpus(bytes.NewReader(good[:len(good)-100]))
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("err %v, want ErrTruncated", err)
	}
	if cut.Frames() < 3*SampleRate || cut.Frames() >= full.Frames() {
		t.Fatalf("truncated stream gave %d frames (full %d)", cut.Frames(), full.Frames())
	}
	for i, v := range cut.Samples {
		if full.Samples[i] != v {
			t.Fatalf("truncated decode differs at sample %d", i)
		}
	}
}

func flipByte(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

func vorbisLike() []byte {
	m := NewOggMuxer(7)
	p, _ := m.HeaderPage([]byte("\x01vorbis\x00\x00\x00\x00\x02"))
	return p
}

// encodeTestStream runs the pipeline over seconds of speech-like audio and
// returns the Ogg Opus stream.
func encodeTestStream(t testing.TB, seconds float64) []byte {
	t.Helper()
	sink := &memSink{}
	p, err := NewPipeline(PipelineConfig{Source: NewPCMSource(SpeechLike(seconds, 1), 1, false), Gate: openGate{}, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return sink.all()
}

func TestOpusHeadFields(t *testing.T) {
	s := encodeTestStream(t, 1)
	r, err := NewOpusReader(bytes.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	if r.Head.Channels != 1 || r.Head.PreSkip != DefaultPreSkip || r.Head.InputRate != SampleRate {
		t.Fatalf("OpusHead %+v", r.Head)
	}
	if binary.LittleEndian.Uint32(s[14:]) == 0 && binary.LittleEndian.Uint32(s[18:]) != 0 {
		t.Fatal("first page has a nonzero sequence number")
	}
}
