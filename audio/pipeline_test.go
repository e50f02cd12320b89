package audio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// markedSource yields buffer k filled with a value that identifies k, and
// calls onRead(k) before delivering it.
type markedSource struct {
	ch     int
	n      int
	k      int
	onRead func(k int)
	closed atomic.Bool
}

func mark(k int) float32              { return float32(k%30000+1) / 32768 }
func unmark(v float32) int            { return int(math.Round(float64(v)*32768)) - 1 }
func (s *markedSource) Channels() int { return s.ch }
func (s *markedSource) Start() error  { return nil }
func (s *markedSource) Close() error  { s.closed.Store(true); return nil }
func (s *markedSource) Read(buf []float32) error {
	if s.k >= s.n {
		return io.EOF
	}
	if s.onRead != nil {
		s.onRead(s.k)
	}
	for i := range buf {
		buf[i] = mark(s.k)
	}
	s.k++
	return nil
}

// switchGate is a gate another goroutine can close and open, like a
// consent session on withdrawal. It remembers what it answered.
type switchGate struct {
	mu      sync.Mutex
	open    bool
	answers []bool
}

func (g *switchGate) Admit(frames int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if frames != FrameSize {
		panic("Admit called with a buffer size other than 960")
	}
	g.answers = append(g.answers, g.open)
	return g.open
}

func (g *switchGate) set(open bool) {
	g.mu.Lock()
	g.open = open
	g.mu.Unlock()
}

// spyEncoder records which buffers reached the encoder.
type spyEncoder struct {
	inner   frameEncoder
	seen    []int
	padding int
}

func (e *spyEncoder) encode(pcm []float32, out []byte) (int, error) {
	if k := unmark(pcm[0]); k >= 0 {
		e.seen = append(e.seen, k)
	} else {
		for _, v := range pcm {
			if v != 0 {
				panic("the end-of-stream padding buffer is not silence")
			}
		}
		e.padding++
	}
	return e.inner.encode(pcm, out)
}

func TestNoConsentNoAudio_ClosedGateNeverReachesEncoder(t *testing.T) {
	gate := &switchGate{}
	// Consent given at buffer 50, withdrawn at 200 (while buffer 200 is
	// being captured), a late joiner's consent completes at 300, stop at 400.
	src := &markedSource{ch: 2, n: 400, onRead: func(k int) {
		switch k {
		case 50, 300:
			gate.set(true)
		case 200:
			gate.set(false)
		}
	}}
	sink := &memSink{}
	p, err := NewPipeline(PipelineConfig{Source: src, Gate: gate, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	spy := &spyEncoder{inner: p.enc}
	p.enc = spy
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var want []int
	for k := 0; k < 400; k++ {
		if (k >= 50 && k < 200) || k >= 300 {
			want = append(want, k)
		}
	}
	if spy.padding != 1 {
		t.Fatalf("%d silent end-of-stream padding packets, want 1", spy.padding)
	}
	if len(spy.seen) != len(want) {
		t.Fatalf("%d buffers reached the encoder, want %d", len(spy.seen), len(want))
	}
	for i, k := range spy.seen {
		if k != want[i] {
			t.Fatalf("buffer %d reached the encoder; expected buffer %d (a buffer captured while the gate was closed was encoded?)", k, want[i])
		}
		if !gate.answers[k] {
			t.Fatalf("buffer %d was encoded although the gate refused it", k)
		}
	}
	st := p.Stats()
	if st.Admitted != int64(len(want)*FrameSize) || st.Dropped != int64((400-len(want))*FrameSize) || st.Captured != 400*FrameSize {
		t.Fatalf("stats %+v", st)
	}
	// The stored stream holds exactly the admitted audio.
	pcm, err := DecodeOggOpus(bytes.NewReader(sink.all()))
	if err != nil {
		t.Fatal(err)
	}
	if pcm.Frames() != len(want)*FrameSize {
		t.Fatalf("stored %d frames, admitted %d", pcm.Frames(), len(want)*FrameSize)
	}
}

func TestNoConsentNoAudio_RefusedSoundIsNotInTheRecording(t *testing.T) {
	// Loud speech while the gate is closed, silence while it is open: the
	// recording must be silent.
	speech := SpeechLike(6, 3)
	gate := &switchGate{}
	var k int
	src := &funcSource{ch: 1, read: func(buf []float32) error {
		if k >= 300 {
			return io.EOF
		}
		open := (k/25)%2 == 0 // alternate every 0.5 s
		gate.set(open)
		if open {
			clear(buf)
		} else {
			copy(buf, speech[k*FrameSize:])
		}
		k++
		return nil
	}}
	sink := &memSink{}
	p, err := NewPipeline(PipelineConfig{Source: src, Gate: gate, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	pcm, err := DecodeOggOpus(bytes.NewReader(sink.all()))
	if err != nil {
		t.Fatal(err)
	}
	if pcm.Frames() != 150*FrameSize {
		t.Fatalf("recorded %d frames, want %d", pcm.Frames(), 150*FrameSize)
	}
	if e := energy(toFloat(pcm.Samples)); e > 1e-7 {
		t.Fatalf("the recording has energy %.3g: refused speech leaked in", e)
	}
	if e := energy(speech); e < 1e-3 {
		t.Fatalf("test signal too quiet (%.3g)", e)
	}
}

type funcSource struct {
	ch   int
	read func([]float32) error
}

func (s *funcSource) Channels() int          { return s.ch }
func (s *funcSource) Start() error           { return nil }
func (s *funcSource) Close() error           { return nil }
func (s *funcSource) Read(b []float32) error { return s.read(b) }

func TestPipelineSealsAtLeastEvery4s(t *testing.T) {
	sink := &memSink{}
	p, err := NewPipeline(PipelineConfig{Source: NewPCMSource(SpeechLike(13.5, 2), 1, false), Gate: openGate{}, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Segment 0: headers + 4 pages; then 4 pages each; the last: the rest.
	if len(sink.segments) != 4 {
		t.Fatalf("%d segments, want 4", len(sink.segments))
	}
	var all []byte
	for i, seg := range sink.segments {
		all = append(all, seg...)
		// Each segment is whole pages, and the audio in it is ≤ 4 s.
		r := NewOggReader(bytes.NewReader(seg))
		var first, last int64 = -1, 0
		for {
			pg, err := r.ReadPage()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("segment %d does not end on a page boundary: %v", i, err)
			}
			if pg.Granule > 0 && first < 0 {
				first = pg.Granule
			}
			last = pg.Granule
		}
		if first >= 0 && last-first > 3*SampleRate+1 { // 4 pages: first page end .. last page end = 3 s
			t.Fatalf("segment %d spans %d frames", i, last-first)
		}
		// The concatenation of segments so far is decodable: a crash after
		// this seal keeps a valid stream.
		if _, err := DecodeOggOpus(bytes.NewReader(all)); err != nil {
			t.Fatalf("segments 0..%d do not decode: %v", i, err)
		}
	}
	pcm, err := DecodeOggOpus(bytes.NewReader(all))
	if err != nil {
		t.Fatal(err)
	}
	if want := 675 * FrameSize; pcm.Frames() != want {
		t.Fatalf("decoded %d frames, want %d", pcm.Frames(), want)
	}
}

func TestPipelineStreamAcceptedByFfprobeAndOpusinfo(t *testing.T) {
	for _, ch := range []int{1, 2} {
		speech := SpeechLike(5, 4)
		in := speech
		if ch == 2 {
			in = make([]float32, 2*len(speech))
			for i, v := range speech {
				in[2*i], in[2*i+1] = v, speech[(i+24000)%len(speech)]
			}
		}
		sink := &memSink{}
		p, err := NewPipeline(PipelineConfig{Source: NewPCMSource(in, ch, false), Gate: openGate{}, Sink: sink})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		path := writeTemp(t, "rec.opus", sink.all())
		needTool(t, "ffprobe")
		out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,channels,sample_rate:format=duration", "-of", "default=nw=1", path).CombinedOutput()
		if err != nil {
			t.Fatalf("ffprobe rejected the stream: %v\n%s", err, out)
		}
		for _, want := range []string{"codec_name=opus", "channels=" + itoa(ch), "sample_rate=48000", "duration=5.0"} {
			if !strings.Contains(string(out), want) {
				t.Fatalf("ffprobe output lacks %q:\n%s", want, out)
			}
		}
		needTool(t, "opusinfo")
		oi, err := exec.Command("opusinfo", path).CombinedOutput()
		if err != nil || strings.Contains(strings.ToLower(string(oi)), "warning") {
			t.Fatalf("opusinfo complained: %v\n%s", err, oi)
		}
		// Decoded by ffmpeg, the audio correlates with what went in.
		dec := ffmpegDecode(t, path, ch)
		for c := 0; c < ch; c++ {
			src := channel(in, ch, c)
			got := channel(dec, ch, c)
			// Opus keeps time but not phase exactly (a few samples of
			// filter delay): align within 1 ms, then correlate.
			r, lag := alignedCorrelation(src, got, 4800)
			if r < 0.88 || lag < -48 || lag > 48 {
				t.Errorf("%d ch, channel %d: correlation %.3f at lag %d with the source, want > 0.88 within 1 ms", ch, c, r, lag)
			}
		}
		st := p.Stats()
		if ov := float64(st.OggBytes-st.AudioBytes) / float64(st.AudioBytes); ov > 0.04 {
			t.Fatalf("Ogg overhead %.1f%% on 5 s (headers included)", 100*ov)
		}
	}
}

func channel(x []float32, ch, c int) []float32 {
	out := make([]float32, len(x)/ch)
	for i := range out {
		out[i] = x[i*ch+c]
	}
	return out
}

func TestPipelineSinkFailureStopsAndReports(t *testing.T) {
	sink := &memSink{failAt: 4} // header, page 1, page 2, then "disk full"
	p, err := NewPipeline(PipelineConfig{Source: NewPCMSource(SpeechLike(10, 5), 1, false), Gate: openGate{}, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Run returned %v, want the sink's error", err)
	}
	if !sink.closed {
		t.Fatal("the sink was not closed after a failure")
	}
	pcm, derr := DecodeOggOpus(bytes.NewReader(sink.all()))
	if derr != nil {
		t.Fatalf("what was stored before the failure does not decode: %v", derr)
	}
	if pcm.Frames() < 95*SampleRate/50 {
		t.Fatalf("only %d frames kept", pcm.Frames())
	}
}

func TestPipelineSourceErrorSealsAndReports(t *testing.T) {
	n := 0
	speech := SpeechLike(3, 6)
	src := &funcSource{ch: 1, read: func(b []float32) error {
		if n == 120 {
			return errors.New("audio: capturing the microphone failed — was the device unplugged")
		}
		copy(b, speech[n*FrameSize:])
		n++
		return nil
	}}
	sink := &memSink{}
	p, _ := NewPipeline(PipelineConfig{Source: src, Gate: openGate{}, Sink: sink})
	err := p.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "unplugged") {
		t.Fatalf("Run returned %v", err)
	}
	pcm, derr := DecodeOggOpus(bytes.NewReader(sink.all()))
	if derr != nil || pcm.Frames() != 120*FrameSize {
		t.Fatalf("kept %d frames (%v), want all 120 buffers", pcm.Frames(), derr)
	}
}

func TestPipelineStopsPromptly(t *testing.T) {
	src := &funcSource{ch: 1, read: func(b []float32) error {
		time.Sleep(20 * time.Millisecond) // a real-time source
		clear(b)
		return nil
	}}
	sink := &memSink{}
	p, _ := NewPipeline(PipelineConfig{Source: src, Gate: openGate{}, Sink: sink})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !sink.closed {
		t.Fatal("sink not closed")
	}
}

func TestBadInputGetsClearError_PipelineConfig(t *testing.T) {
	if _, err := NewPipeline(PipelineConfig{}); err == nil || !strings.Contains(err.Error(), "consent gate") {
		t.Fatalf("err %v", err)
	}
	if _, err := NewPipeline(PipelineConfig{Source: NewPCMSource(nil, 3, false), Gate: openGate{}, Sink: &memSink{}}); err == nil {
		t.Fatal("3 channels accepted")
	}
	if _, err := NewPipeline(PipelineConfig{Source: NewPCMSource(nil, 1, false), Gate: openGate{}, Sink: &memSink{}, PacketsPerPage: 100, SealEvery: 3}); err == nil {
		t.Fatal("6 s between seals accepted")
	}
}

func TestMetersMeasureBeforeTheGate(t *testing.T) {
	gate := &switchGate{} // closed throughout
	tone := make([]float32, 2*FrameSize*10)
	for i := 0; i < len(tone)/2; i++ {
		tone[2*i] = float32(0.5 * math.Sin(2*math.Pi*1000*float64(i)/SampleRate))
	}
	p, _ := NewPipeline(PipelineConfig{Source: NewPCMSource(tone, 2, false), Gate: gate, Sink: &memSink{}})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	l := p.Meters().Levels()
	// A 0.5 sine: peak -6.02 dBFS, RMS -9.03 dBFS; the right channel is silent.
	if math.Abs(l[0].Peak+6.02) > 0.1 || math.Abs(l[0].RMS+9.03) > 0.1 {
		t.Fatalf("left level %+v", l[0])
	}
	if l[1].Peak != SilenceDB || l[1].RMS != SilenceDB {
		t.Fatalf("right level %+v", l[1])
	}
	if p.Stats().Packets != 0 {
		t.Fatal("packets encoded with a closed gate")
	}
}
