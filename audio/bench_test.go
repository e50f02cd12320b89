package audio

import (
	"context"
	"io"
	"runtime"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
)

// loopSource yields n buffers of looped speech-like audio.
func loopSource(ch, n int) *countedSource {
	mono := SpeechLike(10, 11)
	s := mono
	if ch == 2 {
		s = make([]float32, 2*len(mono))
		for i, v := range mono {
			s[2*i], s[2*i+1] = v, mono[(i+SampleRate*3)%len(mono)]
		}
	}
	return &countedSource{PCMSource: NewPCMSource(s, ch, true), left: n}
}

type countedSource struct {
	*PCMSource
	left int
}

func (s *countedSource) Read(b []float32) error {
	if s.left == 0 {
		return io.EOF
	}
	s.left--
	return s.PCMSource.Read(b)
}

// discardSink counts bytes and, optionally, encrypts every segment with age
// the way the vault does (one age file per sealed segment).
type discardSink struct {
	recipient age.Recipient
	w         io.WriteCloser
	bytes     int64
	onSeal    func()
}

func (s *discardSink) WritePage(p []byte) error {
	s.bytes += int64(len(p))
	if s.recipient == nil {
		return nil
	}
	if s.w == nil {
		w, err := age.Encrypt(io.Discard, s.recipient)
		if err != nil {
			return err
		}
		s.w = w
	}
	_, err := s.w.Write(p)
	return err
}

func (s *discardSink) Seal() error {
	if s.onSeal != nil {
		s.onSeal()
	}
	if s.w != nil {
		err := s.w.Close()
		s.w = nil
		return err
	}
	return nil
}

func (s *discardSink) Close() error { return s.Seal() }

func runBench(b *testing.B, ch int, encrypt bool) {
	var rcp age.Recipient
	if encrypt {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			b.Fatal(err)
		}
		rcp = id.Recipient()
	}
	const secondsPerOp = 1
	sink := &discardSink{recipient: rcp}
	p, err := NewPipeline(PipelineConfig{Source: loopSource(ch, b.N*50*secondsPerOp), Gate: openGate{}, Sink: sink})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	if err := p.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	el, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	audio := time.Duration(b.N*secondsPerOp) * time.Second
	st := p.Stats()
	b.ReportMetric(audio.Seconds()/el.Seconds(), "x_realtime")
	// CPU time of the process: robust when other work shares the cores.
	b.ReportMetric(audio.Seconds()/cpu.Seconds(), "x_realtime_per_cpu_s")
	b.ReportMetric(float64(sink.bytes)/audio.Hours()/1e6, "MB/hour")
	b.ReportMetric(100*float64(st.OggBytes-st.AudioBytes)/float64(st.AudioBytes), "ogg_overhead_%")
}

// BenchmarkEncodeMono: capture-to-Ogg throughput, 24 kbit/s mono, one core.
// One op is one second of audio.
func BenchmarkEncodeMono(b *testing.B) { runBench(b, 1, false) }

// BenchmarkEncodeStereo: the same with mic + call audio at 32 kbit/s.
func BenchmarkEncodeStereo(b *testing.B) { runBench(b, 2, false) }

// BenchmarkEncodeEncryptMono adds age encryption (X25519 recipient, one
// age file per sealed ≤ 4 s segment), as the vault stores it.
func BenchmarkEncodeEncryptMono(b *testing.B) { runBench(b, 1, true) }

// BenchmarkEncodeEncryptStereo: stereo with age encryption.
func BenchmarkEncodeEncryptStereo(b *testing.B) { runBench(b, 2, true) }

// BenchmarkHeapOneHourRecording records a simulated hour (180,000 buffers)
// and reports the live heap after 6 minutes and at the end: the pipeline
// keeps nothing per packet, so it must stay flat. Run with -benchtime=1x.
func BenchmarkHeapOneHourRecording(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var seals int
		var early, late uint64
		heap := func() uint64 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return m.HeapAlloc
		}
		sink := &discardSink{}
		sink.onSeal = func() {
			seals++
			if seals == 90 { // 90 seals × 4 s = 6 min
				early = heap()
			}
		}
		p, err := NewPipeline(PipelineConfig{Source: loopSource(1, 3600*50), Gate: openGate{}, Sink: sink})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		late = heap()
		runtime.KeepAlive(p)
		b.ReportMetric(float64(early)/1024, "heap_6min_KiB")
		b.ReportMetric(float64(late)/1024, "heap_60min_KiB")
		b.ReportMetric((float64(late)-float64(early))/1024, "heap_growth_KiB")
		b.ReportMetric(float64(sink.bytes)/1e6, "MB/hour")
	}
}

// cpuTime is the user+system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
