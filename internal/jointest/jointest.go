// Package jointest is test support for the hard rule "a late joiner is not
// recorded until they agreed", shared by the command line's and the app's
// tests over the real sound server: it writes test tones, plays them into
// the PulseAudio null sink and checks a finished recording (its decoded
// audio and its consent record) for the join window.
//
// The method: a continuous tone (ToneHz) plays into the call for the whole
// test. Between the join and the joiner's consent a second, marker tone
// (MarkerHz) plays as well. The recording must show the marker nowhere
// before the consent, the record must show the join and the consent at the
// same stream offset (no frame admitted in between), and the decoded audio
// must be exactly as long as the record says. A check that the marker IS
// heard when played after the consent proves the detector can see it.
package jointest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/consent"
)

// Tone frequencies: 1500 Hz is no harmonic of 440 Hz.
const (
	ToneHz   = 440.0
	MarkerHz = 1500.0
)

// WriteTone writes a mono 48 kHz 16-bit WAV of a sine at hz.
func WriteTone(t testing.TB, dir, name string, hz, secs, amp float64) string {
	t.Helper()
	n := int(secs * audio.SampleRate)
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, uint32(36+2*n))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(audio.SampleRate), uint32(2 * audio.SampleRate), uint16(2), uint16(16)} {
		_ = binary.Write(&b, le, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, le, uint32(2*n))
	for i := 0; i < n; i++ {
		v := amp * math.Sin(2*math.Pi*hz*float64(i)/audio.SampleRate)
		_ = binary.Write(&b, le, int16(v*32767))
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// PrivateSink loads a PulseAudio null sink of its own for one test, so
// sounds other tests play into the shared "callsink" at the same time are
// not heard. It returns the sink's name; the sink is unloaded at the end of
// the test. The test must capture its monitor explicitly (Source): capture
// of the default input asks the sound server for its default source (not
// PULSE_SOURCE), and by default the recording is stereo with what the
// default output plays, neither of which is this sink.
func PrivateSink(t *testing.T) string {
	t.Helper()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "jointest" + hex.EncodeToString(rnd[:])
	out, err := exec.Command("pactl", "load-module", "module-null-sink", "sink_name="+name,
		"sink_properties=device.description="+name, "rate=48000", "channels=1").Output()
	if err != nil {
		t.Fatalf("pactl load-module module-null-sink: %v", err)
	}
	module := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command("pactl", "unload-module", module).Run() })
	return name
}

// Source is the capture device ID of what sink plays (its monitor), as
// the --input flag and the settings take it.
func Source(sink string) string { return "pulse:" + sink + ".monitor" }

// PlayBackground starts `paplay -d sink wav` and returns a stop function.
func PlayBackground(t testing.TB, sink, wav string) (stop func()) {
	t.Helper()
	cmd := exec.Command("paplay", "-d", sink, wav)
	if err := cmd.Start(); err != nil {
		t.Fatalf("paplay: %v", err)
	}
	done := false
	stop = func() {
		if !done {
			done = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	return stop
}

// Play plays wav into sink and returns when it has been played.
func Play(t testing.TB, sink, wav string) {
	t.Helper()
	if b, err := exec.Command("paplay", "-d", sink, wav).CombinedOutput(); err != nil {
		t.Fatalf("paplay -d %s %s: %v %s", sink, wav, err, b)
	}
}

// power is the mean Goertzel power of x at hz.
func power(x []int16, hz float64) float64 {
	w := 2 * math.Cos(2*math.Pi*hz/audio.SampleRate)
	var s1, s2 float64
	for _, v := range x {
		s := float64(v)/32768 + w*s1 - s2
		s2, s1 = s1, s
	}
	return (s1*s1 + s2*s2 - w*s1*s2) / float64(len(x)) / float64(len(x))
}

// Window is the length of one analysis window (50 ms).
const Window = audio.SampleRate / 20

// Ratios returns, per window of the mono audio, the marker's power relative
// to the tone's.
func Ratios(mono []int16) []float64 {
	var out []float64
	for i := 0; i+Window <= len(mono); i += Window {
		x := mono[i : i+Window]
		out = append(out, power(x, MarkerHz)/(power(x, ToneHz)+1e-12))
	}
	return out
}

// Result is what Check found.
type Result struct {
	JoinOffset    int64   // stream offset of the joiner's ParticipantAdded/Joined
	ConsentOffset int64   // stream offset of their ConsentGiven
	Frames        int64   // decoded frames
	MaxBefore     float64 // highest marker/tone ratio before the consent offset
	MaxAfter      float64 // highest ratio after it (the marker replayed while recording)
}

func (r Result) String() string {
	return fmt.Sprintf("join@%d consent@%d frames=%d marker/tone before consent max %.4f, after %.2f",
		r.JoinOffset, r.ConsentOffset, r.Frames, r.MaxBefore, r.MaxAfter)
}

// Check verifies the record with pub, decodes stream and checks the hard
// rule for the participant named joiner. It fails t on any breach.
func Check(t testing.TB, record []byte, pub ed25519.PublicKey, stream []byte, joiner string) Result {
	t.Helper()
	proof, err := consent.Verify(record, pub)
	if err != nil {
		t.Fatalf("the consent record does not verify: %v", err)
	}
	rec, err := consent.Parse(record)
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	id := ""
	r.JoinOffset, r.ConsentOffset = -1, -1
	for _, e := range rec.Events {
		switch {
		case e.Type == consent.ParticipantAdded && e.Principal != nil && e.Principal.Name == joiner:
			id, r.JoinOffset = e.Participant, e.Offset
		case e.Type == consent.ConsentGiven && id != "" && e.Participant == id:
			r.ConsentOffset = e.Offset
		}
	}
	if r.JoinOffset <= 0 || r.ConsentOffset < 0 {
		t.Fatalf("the record has no join (offset %d) and consent (offset %d) of %s after audio was recorded", r.JoinOffset, r.ConsentOffset, joiner)
	}
	if r.ConsentOffset != r.JoinOffset {
		t.Fatalf("%d frames were admitted between %s joining (offset %d) and agreeing (offset %d)",
			r.ConsentOffset-r.JoinOffset, joiner, r.JoinOffset, r.ConsentOffset)
	}
	pcm, err := audio.DecodeOggOpus(bytes.NewReader(stream))
	if err != nil {
		t.Fatalf("the recording does not decode: %v", err)
	}
	r.Frames = int64(pcm.Frames())
	if !proof.Final || r.Frames != proof.FinalOffset {
		t.Fatalf("decoded %d frames, the final record covers %d (final %v)", r.Frames, proof.FinalOffset, proof.Final)
	}
	ratios := Ratios(pcm.Mono())
	cut := int(r.ConsentOffset) / Window
	for i, v := range ratios {
		if i < cut-1 && v > r.MaxBefore {
			r.MaxBefore = v
		}
		if i > cut+1 && v > r.MaxAfter {
			r.MaxAfter = v
		}
	}
	// The tone must be there on both sides of the join: capture worked.
	mono := pcm.Mono()
	for _, at := range []int{int(r.JoinOffset) - 2*Window, int(r.JoinOffset) + Window} {
		if at < 0 || at+Window > len(mono) || power(mono[at:at+Window], ToneHz) < 1e-4 {
			t.Fatalf("no tone in the recording around offset %d: the test heard nothing (%s)", at, r)
		}
	}
	if r.MaxBefore > 0.01 {
		t.Fatalf("the marker played while %s had not agreed is in the recording (%s)", joiner, r)
	}
	if r.MaxAfter < 0.1 {
		t.Fatalf("the marker replayed after the consent is not heard: the check cannot see it (%s)", r)
	}
	return r
}
