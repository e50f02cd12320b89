package audio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebitengine/oto/v3"
	"gopkg.in/hraban/opus.v2"
)

// The one oto context of the process: 48 kHz, stereo, 16-bit.
var (
	otoOnce sync.Once
	otoCtx  *oto.Context
	otoErr  error
)

func output() (*oto.Context, error) {
	otoOnce.Do(func() {
		var ready chan struct{}
		withQuietStderr(func() {
			otoCtx, ready, otoErr = oto.NewContext(&oto.NewContextOptions{
				SampleRate:   SampleRate,
				ChannelCount: 2,
				Format:       oto.FormatSignedInt16LE,
				BufferSize:   100 * time.Millisecond,
			})
		})
		if otoErr == nil {
			select {
			case <-ready:
			case <-time.After(5 * time.Second):
				otoErr = errors.New("the sound output did not become ready in 5 s")
			}
		}
		if otoErr == nil {
			// With no sound server NewContext succeeds and only Err tells.
			otoErr = otoCtx.Err()
		}
		if otoErr != nil {
			otoErr = fmt.Errorf("audio: cannot play sound (%v) — is a sound server running and an output device connected?", otoErr)
		}
	})
	if otoErr == nil {
		if err := otoCtx.Err(); err != nil {
			return nil, fmt.Errorf("audio: the sound output failed (%v)", err)
		}
	}
	return otoCtx, otoErr
}

// opusPacketFrames is the number of 48 kHz frames an Opus packet decodes
// to, from its TOC byte (RFC 6716 §3.1), or 0 if the packet is malformed.
func opusPacketFrames(pkt []byte) int {
	if len(pkt) < 1 {
		return 0
	}
	cfg := int(pkt[0] >> 3)
	var per int
	switch {
	case cfg < 12: // SILK: 10, 20, 40, 60 ms
		per = []int{480, 960, 1920, 2880}[cfg&3]
	case cfg < 16: // Hybrid: 10, 20 ms
		per = []int{480, 960}[cfg&1]
	default: // CELT: 2.5, 5, 10, 20 ms
		per = []int{120, 240, 480, 960}[cfg&3]
	}
	var n int
	switch pkt[0] & 3 {
	case 0:
		n = 1
	case 1, 2:
		n = 2
	default:
		if len(pkt) < 2 {
			return 0
		}
		n = int(pkt[1] & 0x3f)
	}
	if per*n > 5760 {
		return 0
	}
	return per * n
}

// pcmStream decodes packets on demand into 16-bit stereo PCM for oto. It
// implements io.ReadSeeker so oto can seek it (dropping its own buffer).
type pcmStream struct {
	mu      sync.Mutex
	ch      int
	packets [][]byte
	starts  []int64 // decoded-sample index at which each packet starts
	preSkip int64
	end     int64 // decoded-sample index where playback ends
	dec     *opus.Decoder
	next    int     // next packet to decode
	pending []int16 // decoded, interleaved in ch channels, not delivered
	at      int64   // decoded-sample index of pending[0]
	tmp     []int16
	pos     atomic.Int64 // frames delivered (playback domain: 0 = first audible frame)
	gen     uint64       // Player generation, changed under mu by seek and stop
}

func newPCMStream(r io.Reader) (*pcmStream, error) {
	or, err := NewOpusReader(r)
	if err != nil {
		return nil, err
	}
	s := &pcmStream{ch: or.Head.Channels, preSkip: int64(or.Head.PreSkip), tmp: make([]int16, 5760*or.Head.Channels)}
	var total int64
	last := int64(-1)
	for {
		pkt, g, err := or.ReadPacket()
		if err == io.EOF || errors.Is(err, ErrTruncated) {
			break
		}
		if err != nil {
			return nil, err
		}
		n := opusPacketFrames(pkt)
		if n == 0 {
			return nil, errors.New("audio: the recording holds a damaged Opus packet")
		}
		s.packets = append(s.packets, pkt)
		s.starts = append(s.starts, total)
		total += int64(n)
		if g >= 0 {
			last = g
		}
	}
	s.end = total
	if last >= 0 && last < total {
		s.end = last
	}
	if s.end < s.preSkip {
		s.end = s.preSkip
	}
	if s.dec, err = opus.NewDecoder(SampleRate, s.ch); err != nil {
		return nil, fmt.Errorf("audio: starting the Opus decoder: %w", err)
	}
	s.at = 0
	return s, nil
}

func (s *pcmStream) frames() int64 { return s.end - s.preSkip }

// decodeNext decodes packet s.next into pending; a damaged packet plays as silence.
func (s *pcmStream) decodeNext() {
	pkt := s.packets[s.next]
	n, err := s.dec.Decode(pkt, s.tmp)
	want := opusPacketFrames(pkt)
	if err != nil || n != want {
		n = want
		clear(s.tmp[:n*s.ch])
	}
	s.at = s.starts[s.next]
	s.pending = append(s.pending[:0], s.tmp[:n*s.ch]...)
	s.next++
}

func (s *pcmStream) Read(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readLocked(b)
}

// readGen reads for a Player's oto reader of generation gen; it returns
// io.EOF if the Player has seeked or stopped since.
func (s *pcmStream) readGen(b []byte, gen uint64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return 0, io.EOF
	}
	return s.readLocked(b)
}

func (s *pcmStream) readLocked(b []byte) (int, error) {
	// Short reads (10 ms) keep Position honest: oto counts a chunk as
	// buffered only after Read returns.
	if len(b) > 4*FrameSize/2 {
		b = b[:4*FrameSize/2]
	}
	w := 0
	for w+4 <= len(b) {
		if len(s.pending) == 0 {
			if s.next >= len(s.packets) {
				break
			}
			s.decodeNext()
		}
		// Skip pre-skip samples, stop at the end.
		if s.at < s.preSkip {
			drop := min(s.preSkip-s.at, int64(len(s.pending)/s.ch))
			s.pending = s.pending[drop*int64(s.ch):]
			s.at += drop
			continue
		}
		if s.at >= s.end {
			s.pending = s.pending[:0]
			s.next = len(s.packets)
			break
		}
		l, r := s.pending[0], s.pending[0]
		if s.ch == 2 {
			r = s.pending[1]
		}
		binary.LittleEndian.PutUint16(b[w:], uint16(l))
		binary.LittleEndian.PutUint16(b[w+2:], uint16(r))
		w += 4
		s.pending = s.pending[s.ch:]
		s.at++
		s.pos.Add(1)
	}
	if w == 0 && len(b) >= 4 {
		return 0, io.EOF
	}
	return w, nil
}

// Seek implements io.Seeker on the byte stream oto reads (4 bytes a frame).
func (s *pcmStream) Seek(offset int64, whence int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += s.pos.Load() * 4
	case io.SeekEnd:
		offset += s.frames() * 4
	default:
		return 0, errors.New("audio: bad seek whence")
	}
	frame := max(0, min(offset/4, s.frames()))
	s.seekFrame(frame)
	return frame * 4, nil
}

// seekFrame positions the stream at playback frame f: it restarts the
// decoder 4 packets (80 ms) early so its state has converged (RFC 7845 §4.6).
func (s *pcmStream) seekFrame(f int64) {
	target := s.preSkip + f
	idx := len(s.packets)
	for i, st := range s.starts {
		if st > target {
			idx = i - 1
			break
		}
	}
	if idx == len(s.packets) {
		idx = len(s.packets) - 1
	}
	s.pending = s.pending[:0]
	s.pos.Store(f)
	if idx < 0 {
		s.next = 0
		return
	}
	_ = s.dec.Init(SampleRate, s.ch)
	s.next = max(0, idx-4)
	for s.next < idx {
		s.decodeNext()
	}
	s.decodeNext()
	skip := target - s.at
	if skip > int64(len(s.pending)/s.ch) {
		skip = int64(len(s.pending) / s.ch)
	}
	s.pending = s.pending[skip*int64(s.ch):]
	s.at += skip
}

// Player plays one Ogg Opus recording through the system's sound output.
// All methods are safe for concurrent use.
type Player struct {
	s *pcmStream

	mu      sync.Mutex
	op      *oto.Player
	playing bool // wanted state
}

// streamReader is what one oto player reads: it ends as soon as the Player
// seeks or stops, so audio fetched before a seek is never played after it.
type streamReader struct {
	p   *Player
	gen uint64
}

func (r *streamReader) Read(b []byte) (int, error) { return r.p.s.readGen(b, r.gen) }

// NewPlayer reads the Ogg Opus stream r to its end (Opus is small: about
// 11 MB an hour) and prepares playback; nothing sounds until Play. A stream
// cut off in a page plays up to its last whole page.
func NewPlayer(r io.Reader) (*Player, error) {
	s, err := newPCMStream(r)
	if err != nil {
		return nil, err
	}
	ctx, err := output()
	if err != nil {
		return nil, err
	}
	p := &Player{s: s}
	p.op = ctx.NewPlayer(&streamReader{p: p, gen: 0})
	return p, nil
}

// Play starts or resumes playback.
func (p *Player) Play() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.playing = true
	p.op.Play()
}

// Pause pauses playback; Play resumes where it stopped.
func (p *Player) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.playing = false
	p.op.Pause()
}

// Playing reports whether sound is being played.
func (p *Player) Playing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.op.IsPlaying()
}

// Duration is the length of the recording.
func (p *Player) Duration() time.Duration { return framesToDuration(p.s.frames()) }

// Position is how far playback has got: what was handed to the sound
// output minus what it still buffers (exact to about 10 ms).
func (p *Player) Position() time.Duration {
	p.mu.Lock()
	buffered := int64(p.op.BufferedSize() / 4)
	p.mu.Unlock()
	return framesToDuration(max(0, p.s.pos.Load()-buffered))
}

// Seek jumps to d from the start (clamped to the recording).
func (p *Player) Seek(d time.Duration) error {
	return p.SeekGranule(int64(DefaultPreSkip) + durationToFrames(d))
}

// SeekGranule jumps to an Ogg granule position of the stream (48 kHz
// samples including the pre-skip), as consent records and the vault count.
// The current oto player is dropped with whatever it buffered and a new one
// continues from the target.
func (p *Player) SeekGranule(g int64) error {
	ctx, err := output()
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.op.Pause()
	p.s.mu.Lock()
	p.s.gen++ // readers of older generations get EOF
	gen := p.s.gen
	p.s.seekFrame(max(0, min(g-p.s.preSkip, p.s.frames())))
	p.s.mu.Unlock()
	p.op = ctx.NewPlayer(&streamReader{p: p, gen: gen})
	if p.playing {
		p.op.Play()
	}
	return nil
}

// Wait blocks until playback has finished or ctx is done.
func (p *Player) Wait(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		p.mu.Lock()
		err, playing := p.op.Err(), p.op.IsPlaying()
		p.mu.Unlock()
		if err != nil {
			return fmt.Errorf("audio: playback failed: %w", err)
		}
		if !playing && p.s.pos.Load() >= p.s.frames() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Stop ends playback; the Player cannot be resumed afterwards.
func (p *Player) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.playing = false
	p.op.Pause()
	p.s.mu.Lock()
	p.s.gen++
	p.s.next = len(p.s.packets)
	p.s.pending = p.s.pending[:0]
	p.s.pos.Store(p.s.frames())
	p.s.mu.Unlock()
}

func framesToDuration(f int64) time.Duration {
	return time.Duration(f) * time.Second / SampleRate
}

func durationToFrames(d time.Duration) int64 {
	return int64(d) * SampleRate / int64(time.Second)
}
