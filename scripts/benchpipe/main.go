// Command benchpipe measures Assent's recording path — gated pipeline, Opus,
// our Ogg muxer, age encryption into sealed segments — on a WAV file, and
// the same file through `ffmpeg -c:a libopus -b:a 24k | age -r …` in the
// same run, and prints both with their ratio.
//
//	benchpipe [-stereo] FILE.wav
//
// FILE.wav must be 48 kHz 16-bit PCM mono. Both paths run on one core
// (GOMAXPROCS=1 for ours; ffmpeg with -threads 1).
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"time"

	"filippo.io/age"

	"github.com/assent-app/assent/audio"
)

type openGate struct{}

func (openGate) Admit(int) bool { return true }

// ageSink seals a segment as one age file on every Seal, like the vault,
// but into memory (the disk is not what is measured here).
type ageSink struct {
	to       age.Recipient
	cur      io.WriteCloser
	buf      bytes.Buffer
	total    int64
	segments int
}

func (s *ageSink) WritePage(p []byte) error {
	if s.cur == nil {
		s.buf.Reset()
		w, err := age.Encrypt(&s.buf, s.to)
		if err != nil {
			return err
		}
		s.cur = w
	}
	_, err := s.cur.Write(p)
	return err
}

func (s *ageSink) Seal() error {
	if s.cur == nil {
		return nil
	}
	if err := s.cur.Close(); err != nil {
		return err
	}
	s.cur = nil
	s.total += int64(s.buf.Len())
	s.segments++
	_ = sha256.Sum256(s.buf.Bytes()) // the vault hashes every segment for sync
	return nil
}

func (s *ageSink) Close() error { return s.Seal() }

func main() {
	stereo := flag.Bool("stereo", false, "duplicate the input into two channels (mic + call)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: benchpipe [-stereo] FILE.wav")
		os.Exit(2)
	}
	path := flag.Arg(0)
	pcm, ch, err := audio.ReadWAV(path)
	if err != nil || ch != 1 {
		fmt.Fprintf(os.Stderr, "benchpipe: %s: want 48 kHz mono WAV (%v)\n", path, err)
		os.Exit(2)
	}
	secs := float64(len(pcm)) / audio.SampleRate
	channels := 1
	if *stereo {
		st := make([]float32, 2*len(pcm))
		for i, v := range pcm {
			st[2*i], st[2*i+1] = v, v*0.7
		}
		pcm, channels = st, 2
	}
	id, _ := age.GenerateX25519Identity()
	runtime.GOMAXPROCS(1)
	runtime.GC()
	sink := &ageSink{to: id.Recipient()}
	p, err := audio.NewPipeline(audio.PipelineConfig{Source: audio.NewPCMSource(pcm, channels, false), Gate: openGate{}, Sink: sink})
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchpipe:", err)
		os.Exit(1)
	}
	t0 := time.Now()
	if err := p.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "benchpipe:", err)
		os.Exit(1)
	}
	ours := time.Since(t0)
	st := p.Stats()
	overhead := 100 * float64(st.OggBytes-st.AudioBytes) / float64(st.AudioBytes)
	perHour := float64(sink.total) / secs * 3600 / 1e6
	kind := "mono"
	if channels == 2 {
		kind = "stereo"
	}
	fmt.Printf("assent   %-6s %.0f s audio: %.2f s  → %.0f× realtime on one core; %.2f MB/hour; Ogg overhead %.2f%%; %d sealed segments\n",
		kind, secs, ours.Seconds(), secs/ours.Seconds(), perHour, overhead, sink.segments)

	if channels == 2 {
		return
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		fmt.Println("ffmpeg not installed: no comparison")
		return
	}
	recip := id.Recipient().String()
	cmd := exec.Command("sh", "-c", fmt.Sprintf(
		"ffmpeg -v error -threads 1 -i %q -c:a libopus -b:a 24k -application voip -frame_duration 20 -f ogg - | age -r %s | wc -c", path, recip))
	t1 := time.Now()
	out, err := cmd.Output()
	theirs := time.Since(t1)
	if err != nil {
		fmt.Printf("ffmpeg|age failed: %v\n", err)
		return
	}
	var n int64
	fmt.Sscan(string(bytes.TrimSpace(out)), &n)
	fmt.Printf("ffmpeg|age mono   %.0f s audio: %.2f s  → %.0f× realtime; %.2f MB/hour\n",
		secs, theirs.Seconds(), secs/theirs.Seconds(), float64(n)/secs*3600/1e6)
	fmt.Printf("ratio: assent is %.2f× the speed of ffmpeg|age, %.2f× its size\n", theirs.Seconds()/ours.Seconds(), float64(sink.total)/float64(n))
}
