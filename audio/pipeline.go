package audio

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// PipelineConfig configures a recording pipeline.
type PipelineConfig struct {
	Source Source      // required: where audio comes from
	Gate   Gate        // required: the consent gate, asked once per buffer
	Sink   SegmentSink // required: where Ogg pages go (the vault)
	// Bitrate in bit/s; 0 means 24 kbit/s mono or 32 kbit/s stereo.
	Bitrate int
	// PacketsPerPage is how many 20 ms packets go on one Ogg page; 0 means
	// 50 (one second).
	PacketsPerPage int
	// SealEvery is the number of data pages between Seal calls; 0 means
	// 4. PacketsPerPage × SealEvery × 20 ms must not exceed 4 s.
	SealEvery int
}

// Stats counts what a pipeline did, in frames (samples per channel).
type Stats struct {
	Captured   int64 // frames read from the source
	Admitted   int64 // frames the gate admitted (all of them were encoded)
	Dropped    int64 // frames the gate refused (none was encoded)
	Packets    int64 // Opus packets written
	AudioBytes int64 // bytes of Opus packets
	OggBytes   int64 // bytes of Ogg pages, headers included
	Seals      int64 // Seal calls made
}

// Pipeline is one gated recording: Source → meters → gate → Opus → Ogg → sink.
type Pipeline struct {
	cfg    PipelineConfig
	ch     int
	enc    frameEncoder
	mux    *OggMuxer
	meters *Meters

	stopOnce sync.Once
	stop     chan struct{}

	// Owned by the Run goroutine.
	pkt            []byte
	granule        int64
	pagesSinceSeal int
	sinkFailed     bool

	captured, admitted, dropped, packets, audioBytes, oggBytes, seals atomic.Int64
}

// NewPipeline checks cfg and prepares the encoder. Nothing is captured
// until Run.
func NewPipeline(cfg PipelineConfig) (*Pipeline, error) {
	if cfg.Source == nil || cfg.Gate == nil || cfg.Sink == nil {
		return nil, errors.New("audio: a pipeline needs a source, a consent gate and a sink")
	}
	ch := cfg.Source.Channels()
	if ch != 1 && ch != 2 {
		return nil, fmt.Errorf("audio: source has %d channels; only mono and stereo are supported", ch)
	}
	if cfg.PacketsPerPage <= 0 {
		cfg.PacketsPerPage = 50
	}
	if cfg.SealEvery <= 0 {
		cfg.SealEvery = 4
	}
	if cfg.PacketsPerPage*cfg.SealEvery > 200 {
		return nil, fmt.Errorf("audio: %d pages of %d packets between seals is more than 4 s of audio", cfg.SealEvery, cfg.PacketsPerPage)
	}
	if cfg.PacketsPerPage > 250 {
		return nil, errors.New("audio: at most 250 packets fit on one Ogg page")
	}
	enc, err := newOpusEncoder(ch, cfg.Bitrate)
	if err != nil {
		return nil, err
	}
	var serial [4]byte
	_, _ = rand.Read(serial[:])
	return &Pipeline{
		cfg:    cfg,
		ch:     ch,
		enc:    enc,
		mux:    NewOggMuxer(binary.LittleEndian.Uint32(serial[:])),
		meters: NewMeters(ch),
		stop:   make(chan struct{}),
	}, nil
}

// Meters returns the live levels of each channel (measured before the gate).
func (p *Pipeline) Meters() *Meters { return p.meters }

// Channels is 1 or 2.
func (p *Pipeline) Channels() int { return p.ch }

// Stats returns the counters so far; safe to call while Run is running.
func (p *Pipeline) Stats() Stats {
	return Stats{
		Captured:   p.captured.Load(),
		Admitted:   p.admitted.Load(),
		Dropped:    p.dropped.Load(),
		Packets:    p.packets.Load(),
		AudioBytes: p.audioBytes.Load(),
		OggBytes:   p.oggBytes.Load(),
		Seals:      p.seals.Load(),
	}
}

// Stop asks Run to finish after the current buffer. It does not wait.
func (p *Pipeline) Stop() { p.stopOnce.Do(func() { close(p.stop) }) }

// Run captures until ctx is done, Stop is called, or the source fails or
// ends. It always finishes the stream (EOS page), closes the sink and the
// source, and returns the first error (nil on a requested stop or the end
// of a finite source). Run may be called once.
func (p *Pipeline) Run(ctx context.Context) (err error) {
	src, sink := p.cfg.Source, p.cfg.Sink
	defer func() {
		if cerr := src.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	hdr, err := p.mux.OpusHeaderPages(p.ch, DefaultPreSkip)
	if err != nil {
		_ = sink.Close()
		return err
	}
	if err := p.write(hdr); err != nil {
		_ = sink.Close()
		return err
	}
	if err := src.Start(); err != nil {
		return p.finish(err)
	}
	buf := make([]float32, FrameSize*p.ch)
	p.pkt = make([]byte, maxOpusPacket)
	p.granule = int64(DefaultPreSkip)
	wasOpen := false
	for {
		select {
		case <-ctx.Done():
			return p.finish(nil)
		case <-p.stop:
			return p.finish(nil)
		default:
		}
		if err := src.Read(buf); err != nil {
			if errors.Is(err, io.EOF) {
				return p.finish(nil)
			}
			return p.finish(err)
		}
		p.captured.Add(FrameSize)
		p.meters.measure(buf)
		if !p.admit(src) {
			// Consent is missing: the buffer is dropped here, before the
			// encoder. Nothing of it is kept.
			clear(buf)
			p.dropped.Add(FrameSize)
			if wasOpen {
				// Paused: seal what was recorded, so a crash during a
				// long pause loses nothing of it.
				wasOpen = false
				if err := p.flushAndSeal(); err != nil {
					return p.finish(err)
				}
			}
			continue
		}
		wasOpen = true
		p.admitted.Add(FrameSize)
		p.granule += FrameSize
		if err := p.encodeAndMux(buf, p.granule); err != nil {
			return p.finish(err)
		}
	}
}

// frameDuration is the length of one buffer.
const frameDuration = FrameSize * time.Second / SampleRate

// admit asks the gate about the buffer just read: by its capture time when
// the source knows how late it reads and the gate can judge that.
func (p *Pipeline) admit(src Source) bool {
	ag, okGate := p.cfg.Gate.(AgedGate)
	clock, okClock := src.(CaptureClock)
	if okGate && okClock {
		return ag.AdmitAged(FrameSize, clock.CaptureDelay()+frameDuration)
	}
	return p.cfg.Gate.Admit(FrameSize)
}

// encodeAndMux encodes one buffer, puts its packet on the current page
// ending at granule, and writes and seals pages as they fill.
func (p *Pipeline) encodeAndMux(buf []float32, granule int64) error {
	n, err := p.enc.encode(buf, p.pkt)
	if err != nil {
		return fmt.Errorf("audio: Opus encoding failed: %w", err)
	}
	full, err := p.mux.WritePacket(p.pkt[:n], granule)
	if err != nil {
		return err
	}
	p.packets.Add(1)
	p.audioBytes.Add(int64(n))
	if full == nil && p.mux.Pending() >= p.cfg.PacketsPerPage {
		full = p.mux.Flush(false)
	}
	if full == nil {
		return nil
	}
	if err := p.write(full); err != nil {
		return err
	}
	p.pagesSinceSeal++
	if p.pagesSinceSeal >= p.cfg.SealEvery {
		return p.seal()
	}
	return nil
}

func (p *Pipeline) seal() error {
	p.pagesSinceSeal = 0
	if err := p.cfg.Sink.Seal(); err != nil {
		p.sinkFailed = true
		return fmt.Errorf("audio: sealing a segment: %w", err)
	}
	p.seals.Add(1)
	return nil
}

// flushAndSeal writes the partial page and seals, if anything is unsealed.
func (p *Pipeline) flushAndSeal() error {
	if pg := p.mux.Flush(false); pg != nil {
		if err := p.write(pg); err != nil {
			return err
		}
		p.pagesSinceSeal++
	}
	if p.pagesSinceSeal == 0 {
		return nil
	}
	return p.seal()
}

func (p *Pipeline) write(page []byte) error {
	if err := p.cfg.Sink.WritePage(page); err != nil {
		p.sinkFailed = true
		return fmt.Errorf("audio: storing audio: %w", err)
	}
	p.oggBytes.Add(int64(len(page)))
	return nil
}

// finish ends the stream, closes the sink and returns the first error.
//
// The encoder delays its output by DefaultPreSkip samples, so the last
// admitted samples are still inside it: one packet of silence pushes them
// out, and the final granule position (pre-skip + admitted frames) tells
// decoders to drop the rest of that packet. The silence is not captured
// audio. After a sink failure nothing more is written: the sink keeps
// whole pages only.
func (p *Pipeline) finish(cause error) error {
	var werr error
	if !p.sinkFailed {
		if p.admitted.Load() > 0 {
			if p.pkt == nil {
				p.pkt = make([]byte, maxOpusPacket)
			}
			werr = p.encodeAndMux(make([]float32, FrameSize*p.ch), p.granule)
		}
		if last := p.mux.Flush(true); last != nil && werr == nil {
			werr = p.write(last)
		}
	}
	cerr := p.cfg.Sink.Close()
	if cerr == nil {
		p.seals.Add(1)
	}
	switch {
	case cause != nil:
		return cause
	case werr != nil:
		return werr
	case cerr != nil:
		return fmt.Errorf("audio: closing the recording: %w", cerr)
	}
	return nil
}
