package audio

import (
	"context"
	"testing"

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
	t.Logf("microphones %+v\ncall audio %+v", mics, calls)
}
