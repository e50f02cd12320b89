package cli

import (
	"strings"
	"testing"

	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/internal/config"
)

// TestCallInputFlags: no flag and no setting record what the computer
// plays; "none" records the microphone alone and says so; the flag wins
// over the settings.
func TestCallInputFlags(t *testing.T) {
	var out, errOut strings.Builder
	e := &env{stdout: &out, stderr: &errOut}
	cfg := config.Default()
	if cc := captureConfig(e, cfg, "", ""); cc.CallInput != audio.CallOutput || cc.Input != "" || errOut.Len() != 0 {
		t.Fatalf("defaults: %+v, stderr %q", cc, errOut.String())
	}
	cc := captureConfig(e, cfg, "", "none")
	if cc.CallInput != "" || !strings.Contains(errOut.String(), audio.NoCallAudioWarning) {
		t.Fatalf("--call-input none: %+v, stderr %q", cc, errOut.String())
	}
	cfg.CallInput, cfg.Input = "none", "pulse:mic"
	if cc := captureConfig(e, cfg, "", "pulse:headset.monitor"); cc.CallInput != "pulse:headset.monitor" || cc.Input != "pulse:mic" {
		t.Fatalf("flag over settings: %+v", cc)
	}
}

// TestCallInputOnlyTheCallApp: --call-input app (or app:NAME) records only
// the call app's sound; when that cannot be done the error says how to
// record everything instead.
func TestCallInputOnlyTheCallApp(t *testing.T) {
	var out, errOut strings.Builder
	e := &env{stdout: &out, stderr: &errOut}
	cfg := config.Default()
	for _, in := range []string{"app", "app:Zoom"} {
		if cc := captureConfig(e, cfg, "", in); cc.CallInput != in {
			t.Fatalf("--call-input %s: %+v", in, cc)
		}
	}
	cfg.CallInput = "app"
	if cc := captureConfig(e, cfg, "", ""); cc.CallInput != "app" {
		t.Fatalf("setting app: %+v", cc)
	}
	if cc := captureConfig(e, cfg, "", "output"); cc.CallInput != audio.CallOutput {
		t.Fatalf("--call-input output over the setting: %+v", cc)
	}
	for _, err := range []error{audio.ErrNoCallApp, audio.ErrCallOnlyUnsupported} {
		if msg := captureError(err).Error(); !strings.Contains(msg, "--call-input output") {
			t.Fatalf("%q does not say how to record everything instead", msg)
		}
	}
}

// callAppSource stands for a capture that records only a call app's sound.
type callAppSource struct{ app string }

func (callAppSource) Channels() int         { return 2 }
func (callAppSource) Start() error          { return nil }
func (callAppSource) Read([]float32) error  { return nil }
func (callAppSource) Close() error          { return nil }
func (s callAppSource) CallAppName() string { return s.app }

// TestRecordSaysWhoseSoundIsRecorded: assent record prints which
// application's sound is the other side of the call.
func TestRecordSaysWhoseSoundIsRecorded(t *testing.T) {
	var out, errOut strings.Builder
	e := &env{stdout: &out, stderr: &errOut}
	sayCallAudio(e, callAppSource{app: "Zoom"})
	if got := errOut.String(); got != "Call audio: only Zoom's sound (not notifications, music or other apps)\n" {
		t.Fatalf("printed %q", got)
	}
	errOut.Reset()
	sayCallAudio(e, callAppSource{})
	if errOut.Len() != 0 {
		t.Fatalf("printed %q for a capture of everything", errOut.String())
	}
}
