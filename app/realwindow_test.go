package app

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/testenv"
)

// TestRealWindowTour opens the real window on an X server (Xvfb through
// scripts/with-real-parts.sh), walks every screen over FakeBackend — the two
// consents clicked with xdotool at the positions the ASSENT_AUTOMATION file
// reports — and checks a screenshot of each screen was taken and the app
// reached the recording screen only after both clicks. Screenshots go to
// $ASSENT_SCREENSHOT_DIR if set (CI keeps artifacts/screenshots).
func TestRealWindowTour(t *testing.T) {
	testenv.RequireDisplay(t)
	if testing.Short() {
		t.Skip("real window tour takes ~40 s")
	}
	for _, tool := range []string{"xdotool", "import"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to drive and photograph the real window: %v (apt-get install xdotool imagemagick)", tool, err)
		}
	}
	dir := os.Getenv("ASSENT_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// The tour runs in this package's test binary (TestMain), built without
	// the race detector: under it Fyne's rendering is too slow for the
	// tour's timing on a busy 2-core machine.
	bin := filepath.Join(t.TempDir(), "app.test")
	if out, err := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the tour: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "LANG=en_US.UTF-8", shotsChildEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tour failed: %v\n%s", err, tail(out, 3000))
	}
	want := []string{"01-first-run", "02-new-call", "03-consent-en", "04-consent-nl", "05-recording", "06-someone-joined",
		"07-paused", "08-saved", "09-library", "10-delete-confirm", "11-settings", "12-error-dialog", "13-library-nl", "consent-link"}
	for _, w := range want {
		fi, err := os.Stat(filepath.Join(dir, w+".png"))
		if err != nil || fi.Size() < 10_000 {
			t.Errorf("screenshot %s missing or empty: %v", w, err)
		}
	}
	st, err := readAutomation(filepath.Join(dir, "automation.json"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Screen != "library" || st.Elements["search"].W == 0 {
		t.Errorf("final automation state: screen %q, search %+v", st.Screen, st.Elements["search"])
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
