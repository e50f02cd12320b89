// Command gen makes the spoken recording announcements in
// assets/sounds/spoken/ once, from text, with espeak-ng → sox (48 kHz mono)
// → the project's own gated Opus/Ogg pipeline (gate always open).
//
//	go run ./audio/spoken/gen [-out assets/sounds/spoken]
//
// The outputs are committed; the app never runs espeak-ng. Rerun it only
// when a text below changes (and say so in the commit).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/audio/spoken"
)

// voices maps a language to its espeak-ng voice.
var voices = map[string]string{"en": "en-gb", "nl": "nl", "de": "de", "fr": "fr-fr"}

type open struct{}

func (open) Admit(int) bool { return true }

type buf struct{ bytes.Buffer }

func (b *buf) WritePage(p []byte) error { _, err := b.Write(p); return err }
func (b *buf) Seal() error              { return nil }
func (b *buf) Close() error             { return nil }

func main() {
	out := flag.String("out", "assets/sounds/spoken", "output directory")
	flag.Parse()
	tmp, err := os.MkdirTemp("", "spoken")
	check(err)
	defer os.RemoveAll(tmp)
	for _, lang := range spoken.Langs() {
		text := spoken.Text(lang)
		raw := filepath.Join(tmp, lang+".wav")
		wav := filepath.Join(tmp, lang+"48.wav")
		run("espeak-ng", "-v", voices[lang], "-s", "150", "-w", raw, text)
		// 48 kHz mono 16-bit, normalised to -3 dBFS, 150 ms of silence at each end.
		run("sox", raw, "-r", "48000", "-c", "1", "-b", "16", wav, "norm", "-3", "pad", "0.15", "0.15")
		pcm, ch, err := audio.ReadWAV(wav)
		check(err)
		var b buf
		p, err := audio.NewPipeline(audio.PipelineConfig{Source: audio.NewPCMSource(pcm, ch, false),
			Gate: open{}, Sink: &b, Bitrate: 24000})
		check(err)
		check(p.Run(context.Background()))
		dst := filepath.Join(*out, lang+".opus")
		check(os.WriteFile(dst, b.Bytes(), 0o644))
		fmt.Printf("%s: %.1f s, %d bytes\n", dst, float64(len(pcm)/ch)/audio.SampleRate, b.Len())
	}
}

func run(name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "%s failed: %v (install espeak-ng and sox)\n", name, err)
		os.Exit(1)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
