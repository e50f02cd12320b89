package desktop

import (
	"strings"
	"testing"

	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/internal/config"
	"github.com/assent-app/assent/internal/pulsetest"
	"github.com/assent-app/assent/internal/testenv"
)

func TestCallOutputSpelledTheSame(t *testing.T) {
	if config.CallOutput != audio.CallOutput {
		t.Fatalf("config.CallOutput %q != audio.CallOutput %q", config.CallOutput, audio.CallOutput)
	}
}

func TestCaptureForCheckedDevices(t *testing.T) {
	for _, c := range []struct {
		ids       []string
		mic, call string
	}{
		{[]string{DefaultMicID, DefaultCallID}, "", audio.CallOutput},
		{[]string{DefaultCallID, DefaultMicID}, "", audio.CallOutput}, // order on screen does not swap the channels
		{[]string{DefaultMicID}, "", ""},
		{[]string{"pulse:mic", "pulse:headset.monitor"}, "pulse:mic", "pulse:headset.monitor"},
		{[]string{"pulse:headset.monitor"}, "pulse:headset.monitor", ""}, // the call alone
		{[]string{DefaultMicID, "app"}, "", "app"},                       // only the call app's sound
		{[]string{"app:Zoom", "pulse:mic"}, "pulse:mic", "app:Zoom"},
	} {
		cc, err := captureFor(c.ids)
		if err != nil || cc.Input != c.mic || cc.CallInput != c.call {
			t.Errorf("%q: %+v %v, want mic %q call %q", c.ids, cc, err, c.mic, c.call)
		}
	}
	if _, err := captureFor([]string{"app"}); err == nil || !strings.Contains(err.Error(), "needs your microphone") {
		t.Errorf("only the call app without a microphone: %v", err)
	}
	for in, want := range map[string]string{DefaultMicID: "", DefaultCallID: "", "": "", "none": "none", "pulse:x": "pulse:x", "app:Zoom": "app:Zoom"} {
		if got := settingToConfig(in); got != want {
			t.Errorf("setting %q → config %q, want %q", in, got, want)
		}
	}
}

// TestRealDeviceListNamesBothSides: the app's device list names the
// defaults after the sound server's devices, both checked by default.
func TestRealDeviceListNamesBothSides(t *testing.T) {
	testenv.RequirePulse(t)
	pulsetest.Start(t)
	devs, err := deviceList(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	var mic, call bool
	for _, d := range devs {
		if d.ID == DefaultMicID && d.Default && !d.Call && d.Name == "Default microphone (Headset microphone)" {
			mic = true
		}
		if d.ID == DefaultCallID && d.Default && d.Call && d.Name == "What this computer plays (Laptop speakers — call audio)" {
			call = true
		}
	}
	if !mic || !call {
		t.Fatalf("defaults missing or unnamed: %+v", devs)
	}
	// Only the call app's sound in the settings: that choice is checked on
	// New call, everything-the-computer-plays is not; a chosen app that is
	// not running now is still offered.
	cfg := config.Default()
	cfg.CallInput = "app:Webex"
	devs, _ = deviceList(cfg)
	var checked []string
	for _, d := range devs {
		if d.Call && d.Default {
			checked = append(checked, d.ID+"="+d.Name)
		}
	}
	if len(checked) != 1 || checked[0] != "app:Webex=Only Webex's sound" {
		t.Fatalf("call sources checked by default with app:Webex in the settings: %q", checked)
	}
	cfg.CallInput = config.CallNone
	devs, _ = deviceList(cfg)
	for _, d := range devs {
		if d.ID == DefaultCallID && d.Default {
			t.Fatal("call audio is checked by default although the settings say none")
		}
	}
}

// TestBadInputGetsClearError_NoCallAudioHere: without a sound server to
// ask, a call whose settings expect both sides is refused in plain words
// instead of recording one side; with "(none)" in the settings it is not.
func TestBadInputGetsClearError_NoCallAudioHere(t *testing.T) {
	t.Setenv("PULSE_SERVER", "unix:/nonexistent/assent-test")
	t.Setenv("PATH", t.TempDir()) // and no pactl
	err := noCallAudio(config.Default(), audio.CaptureConfig{})
	if err == nil || !strings.Contains(err.Error(), "(none)") {
		t.Fatalf("got %v, want a refusal that says how to record the microphone alone", err)
	}
	cfg := config.Default()
	cfg.CallInput = config.CallNone
	if err := noCallAudio(cfg, audio.CaptureConfig{}); err != nil {
		t.Fatalf("with (none) chosen: %v", err)
	}
	if err := noCallAudio(config.Default(), audio.CaptureConfig{CallInput: audio.CallOutput}); err != nil {
		t.Fatalf("with call audio: %v", err)
	}
}
