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
