package audio

import (
	"fmt"
	"io"

	"gopkg.in/hraban/opus.v2"
)

// Default Opus bit rates: about 24 kbit/s for mono, 32 kbit/s for stereo.
const (
	DefaultBitrateMono   = 24000
	DefaultBitrateStereo = 32000
)

// maxOpusPacket is the largest packet libopus produces for one frame.
const maxOpusPacket = 1275

// frameEncoder turns one 960-frame buffer into one Opus packet. The
// pipeline's tests replace it to watch exactly what reaches the encoder.
type frameEncoder interface {
	encode(pcm []float32, out []byte) (int, error)
}

type opusEncoder struct{ enc *opus.Encoder }

func newOpusEncoder(channels, bitrate int) (*opusEncoder, error) {
	enc, err := opus.NewEncoder(SampleRate, channels, opus.AppVoIP)
	if err != nil {
		return nil, fmt.Errorf("audio: starting the Opus encoder: %w", err)
	}
	if bitrate <= 0 {
		bitrate = DefaultBitrateMono
		if channels == 2 {
			bitrate = DefaultBitrateStereo
		}
	}
	if err := enc.SetBitrate(bitrate); err != nil {
		return nil, fmt.Errorf("audio: Opus bit rate %d: %w", bitrate, err)
	}
	return &opusEncoder{enc: enc}, nil
}

func (e *opusEncoder) encode(pcm []float32, out []byte) (int, error) {
	return e.enc.EncodeFloat32(pcm, out)
}

// PCM is decoded audio: interleaved 16-bit samples at 48 kHz.
type PCM struct {
	Channels int
	Samples  []int16 // len = frames × Channels
}

// Frames is the number of frames (samples per channel).
func (p *PCM) Frames() int {
	if p.Channels == 0 {
		return 0
	}
	return len(p.Samples) / p.Channels
}

// Mono returns the per-frame average of all channels.
func (p *PCM) Mono() []int16 {
	if p.Channels == 1 {
		return p.Samples
	}
	out := make([]int16, p.Frames())
	for i := range out {
		s := 0
		for c := 0; c < p.Channels; c++ {
			s += int(p.Samples[i*p.Channels+c])
		}
		out[i] = int16(s / p.Channels)
	}
	return out
}

// Channel returns one channel (0 = left) of the audio.
func (p *PCM) Channel(c int) []int16 {
	out := make([]int16, p.Frames())
	for i := range out {
		out[i] = p.Samples[i*p.Channels+c]
	}
	return out
}

// DecodeOggOpus decodes a whole Ogg Opus stream. Pre-skip is removed and
// the end is trimmed to the last granule position, as RFC 7845 requires. A
// stream cut off in the middle of a page decodes up to its last whole page
// and returns the audio together with an error wrapping ErrTruncated.
func DecodeOggOpus(r io.Reader) (*PCM, error) {
	or, err := NewOpusReader(r)
	if err != nil {
		return nil, err
	}
	dec, err := opus.NewDecoder(SampleRate, or.Head.Channels)
	if err != nil {
		return nil, fmt.Errorf("audio: starting the Opus decoder: %w", err)
	}
	ch := or.Head.Channels
	out := &PCM{Channels: ch}
	buf := make([]int16, 5760*ch) // 120 ms, the longest Opus packet
	var lastGranule int64 = -1
	var readErr error
	for {
		pkt, g, err := or.ReadPacket()
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		n, err := dec.Decode(pkt, buf)
		if err != nil {
			return out, fmt.Errorf("audio: a damaged Opus packet: %w", err)
		}
		out.Samples = append(out.Samples, buf[:n*ch]...)
		if g >= 0 {
			lastGranule = g
		}
	}
	skip := or.Head.PreSkip
	if skip > out.Frames() {
		skip = out.Frames()
	}
	if lastGranule >= 0 && readErr == nil {
		end := lastGranule
		if end < int64(skip) {
			end = int64(skip)
		}
		if end < int64(out.Frames()) {
			out.Samples = out.Samples[:end*int64(ch)]
		}
	}
	out.Samples = out.Samples[skip*ch:]
	return out, readErr
}
