package platform_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/assent-app/assent/internal/platform"
)

// TestBadInputGetsClearError_HintsNameThisSystem: the fixes shown for a
// missing keyring, sound system or microphone name what exists on the
// system the rep is using — no PulseAudio or GNOME Keyring on Windows.
func TestBadInputGetsClearError_HintsNameThisSystem(t *testing.T) {
	hints := map[string]string{"KeyringFix": platform.KeyringFix(), "SoundFix": platform.SoundFix(), "NoInputFix": platform.NoInputFix()}
	var want map[string]string
	var foreign []string
	switch runtime.GOOS {
	case "windows":
		want = map[string]string{"KeyringFix": "Credential Manager", "SoundFix": "Settings", "NoInputFix": "Settings"}
		foreign = []string{"PulseAudio", "PipeWire", "GNOME", "Secret Service", "keychain", "D-Bus"}
	case "darwin":
		want = map[string]string{"KeyringFix": "keychain", "SoundFix": "System Settings", "NoInputFix": "System Settings"}
		foreign = []string{"PulseAudio", "PipeWire", "GNOME", "Secret Service", "Credential Manager"}
	default:
		want = map[string]string{"KeyringFix": "Secret Service", "SoundFix": "PulseAudio", "NoInputFix": "PulseAudio"}
		foreign = []string{"Credential Manager", "keychain", "Settings ›"}
	}
	for name, h := range hints {
		if !strings.Contains(h, want[name]) {
			t.Errorf("%s on %s = %q; want it to mention %q", name, runtime.GOOS, h, want[name])
		}
		for _, f := range foreign {
			if strings.Contains(h, f) {
				t.Errorf("%s on %s = %q names %q, which this system does not have", name, runtime.GOOS, h, f)
			}
		}
		if strings.HasSuffix(h, ".") {
			t.Errorf("%s = %q ends with a full stop; callers append to it", name, h)
		}
	}
}
