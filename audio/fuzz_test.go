package audio

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzOggOpusReader feeds arbitrary bytes to the demuxer, the decoder and
// the playback stream: they must return an error or audio, never panic or
// hang.
func FuzzOggOpusReader(f *testing.F) {
	good := encodeTestStream(f, 2)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(flipByte(good, 100))
	f.Add(vorbisLike())
	f.Add([]byte("OggS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewOggReader(bytes.NewReader(b))
		for i := 0; i < 1000; i++ {
			if _, err := r.ReadPage(); err != nil {
				break
			}
		}
		pcm, err := DecodeOggOpus(bytes.NewReader(b))
		if err == nil && pcm == nil {
			t.Fatal("no audio and no error")
		}
		s, err := newPCMStream(bytes.NewReader(b))
		if err != nil {
			return
		}
		buf := make([]byte, 4096)
		for i := 0; i < 2000; i++ {
			if _, err := s.Read(buf); err == io.EOF {
				break
			}
		}
		if _, err := s.Seek(s.frames()*2, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		_, _ = s.Read(buf)
	})
}

// FuzzOggMuxRoundTrip: whatever packets go into the muxer come out of the
// demuxer unchanged, with valid CRCs and page sequence.
func FuzzOggMuxRoundTrip(f *testing.F) {
	f.Add([]byte{10, 0, 255, 1, 44}, uint8(3))
	f.Add(bytes.Repeat([]byte{200}, 300), uint8(50))
	f.Fuzz(func(t *testing.T, sizes []byte, perPage uint8) {
		if perPage == 0 {
			perPage = 1
		}
		if len(sizes) > 600 {
			sizes = sizes[:600]
		}
		m := NewOggMuxer(42)
		var stream []byte
		hdr, err := m.OpusHeaderPages(1, DefaultPreSkip)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, hdr...)
		var pkts [][]byte
		for i, sz := range sizes {
			pkt := bytes.Repeat([]byte{byte(i)}, int(sz)*5) // up to 1275 bytes
			pkts = append(pkts, pkt)
			full, err := m.WritePacket(pkt, int64(i+1)*FrameSize)
			if err != nil {
				t.Fatal(err)
			}
			stream = append(stream, full...)
			if m.Pending() >= int(perPage) {
				stream = append(stream, m.Flush(false)...)
			}
		}
		stream = append(stream, m.Flush(true)...)
		r, err := NewOpusReader(bytes.NewReader(stream))
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range pkts {
			got, _, err := r.ReadPacket()
			if err != nil {
				t.Fatalf("packet %d: %v", i, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("packet %d changed", i)
			}
		}
		if _, _, err := r.ReadPacket(); !errors.Is(err, io.EOF) {
			t.Fatalf("after the last packet: %v", err)
		}
	})
}

// FuzzParseWAV: the WAV reader (test and file input) never panics.
func FuzzParseWAV(f *testing.F) {
	f.Add([]byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\xbb\x00\x00\x00\x77\x01\x00\x02\x00\x10\x00data\x04\x00\x00\x00\x01\x00\x02\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, ch, err := parseWAV(b)
		if err == nil && (ch < 1 || ch > 2 || len(s)%ch != 0) {
			t.Fatalf("accepted %d channels, %d samples", ch, len(s))
		}
	})
}
