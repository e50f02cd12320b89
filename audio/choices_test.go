package audio

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/pulsetest"
	"github.com/assent-app/assent/internal/testenv"
)

// TestRealDeviceChoicesHaveHumanNames: the settings list devices by the
// names the sound server gives them, the default first, "(none)" last with
// its warning.
func TestRealDeviceChoicesHaveHumanNames(t *testing.T) {
	testenv.RequirePulse(t)
	pulsetest.Start(t)
	ctx := context.Background()
	mics, err := MicChoices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if mics[0].ID != "" || mics[0].Name != "Default microphone (Headset microphone)" {
		t.Fatalf("first microphone choice %+v", mics[0])
	}
	for _, m := range mics {
		if m.ID == "pulse:speakers.monitor" {
			t.Fatalf("an output's monitor is offered as a microphone: %+v", m)
		}
	}
	calls, err := CallChoices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if calls[0].ID != "" || calls[0].Name != "What this computer plays (Laptop speakers — call audio)" {
		t.Fatalf("first call choice %+v", calls[0])
	}
	last := calls[len(calls)-1]
	if last.ID != "none" || last.Name != "(none)" || last.Warning == "" {
		t.Fatalf("last call choice %+v, want (none) with a warning", last)
	}
	found := false
	for _, c := range calls {
		found = found || (c.ID == "pulse:headset.monitor" && c.Name == "Headset — call audio")
	}
	if !found {
		t.Fatalf("the headset output is not offered: %+v", calls)
	}
	if calls[1].ID != CallApp || calls[1].Name != "Only the call app" || !calls[1].OnlyApp {
		t.Fatalf("second call choice %+v, want only the call app's sound", calls[1])
	}
	t.Logf("microphones %+v\ncall audio %+v", mics, calls)
}

// TestRealCallAppChoicesNameTheApps: with Zoom on the microphone the
// call-app choice names it, and each call app on the sound server can be
// chosen by name.
func TestRealCallAppChoicesNameTheApps(t *testing.T) {
	testenv.RequirePulse(t)
	srv := pulsetest.Start(t)
	srv.FakeCallApp(t, "Zoom", "zoom")
	wav, _ := soxWAV(t, "quiet.wav", "20", "sine", "200", "vol", "0")
	srv.PlayApp(t, "Microsoft Teams", "teams", "", wav)
	srv.PlayApp(t, "Rhythmbox", "rhythmbox", "", wav)
	time.Sleep(300 * time.Millisecond)
	calls, err := CallChoices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range calls {
		if c.OnlyApp {
			got = append(got, c.ID+"="+c.Name)
		}
	}
	want := []string{"app=Only the call app (Zoom)", "app:Zoom=Only Zoom's sound", "app:Microsoft Teams=Only Microsoft Teams's sound"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("call-app choices %q, want %q", got, want)
	}
}
