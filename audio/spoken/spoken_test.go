package spoken

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/internal/testenv"
)

func rms(s []int16) float64 {
	var sum float64
	for _, v := range s {
		f := float64(v) / 32768
		sum += f * f
	}
	return math.Sqrt(sum / float64(max(1, len(s))))
}

// Every announcement ships, decodes as Ogg Opus, and is speech of a
// plausible length (the texts are one or two sentences).
func TestAnnouncementsShipAndDecode(t *testing.T) {
	for _, lang := range Langs() {
		data, used, err := Announcement(lang)
		if err != nil || used != lang {
			t.Fatalf("%s: %v (used %q)", lang, err, used)
		}
		pcm, err := audio.DecodeOggOpus(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: does not decode: %v", lang, err)
		}
		secs := float64(pcm.Frames()) / audio.SampleRate
		if secs < 4 || secs > 20 {
			t.Errorf("%s: %.1f s long, want 4–20 s", lang, secs)
		}
		if r := rms(pcm.Mono()); r < 0.03 {
			t.Errorf("%s: RMS %.4f, the announcement is (nearly) silent", lang, r)
		}
		if len(data) > 64<<10 {
			t.Errorf("%s: %d bytes, assets should stay small", lang, len(data))
		}
	}
	for _, must := range []string{"en", "nl"} {
		if Text(must) == "" {
			t.Errorf("no %s announcement", must)
		}
	}
}

func TestUnknownLanguageFallsBackToEnglish(t *testing.T) {
	en, _, err := Announcement("en")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"xx", "", "../../etc/passwd"} {
		got, used, err := Announcement(l)
		if err != nil || used != "en" || !bytes.Equal(got, en) {
			t.Errorf("Announcement(%q) = %d bytes, %q, %v; want the English one", l, len(got), used, err)
		}
	}
}

// The Dutch announcement is heard on a real PulseAudio sink.
func TestRealAnnouncementIsHeard(t *testing.T) {
	testenv.RequirePulse(t)
	if _, err := exec.LookPath("parec"); err != nil {
		t.Fatal("parec (pulseaudio-utils) is needed: " + err.Error())
	}
	path := filepath.Join(t.TempDir(), "mon.raw")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("parec", "-d", "callsink.monitor", "--rate=48000", "--channels=1", "--format=s16le", "--raw", "--latency-msec=20")
	cmd.Stdout = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := Play(ctx, "nl", "nl"); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	time.Sleep(300 * time.Millisecond)
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	f.Close()
	b, _ := os.ReadFile(path)
	heard := make([]int16, len(b)/2)
	for i := range heard {
		heard[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	if r := rms(heard); r < 0.02 {
		t.Fatalf("the monitor heard RMS %.4f over %d samples: the announcement did not play", r, len(heard))
	}
	// "nl" twice is played once: about 10 s, not 20.
	if took > 15*time.Second {
		t.Fatalf("playing took %v; a repeated language must play once", took)
	}
}
