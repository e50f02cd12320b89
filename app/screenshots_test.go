package app

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/widget"

	"github.com/assent-app/assent/assets"
)

// shotsChildEnv names the directory the screenshot tour writes to when the
// test binary runs as the tour's process (see TestMain).
const shotsChildEnv = "ASSENT_SCREENSHOTS_CHILD"

// TestMain runs the screenshot tour instead of the tests when the test
// binary is started with ASSENT_SCREENSHOTS_CHILD=<dir> (TestRealWindowTour
// does): Fyne's event loop must own the main goroutine, which TestMain has.
//
//	scripts/with-real-parts.sh go test ./app -run TestRealWindowTour  # ASSENT_SCREENSHOT_DIR=artifacts/screenshots keeps them
func TestMain(m *testing.M) {
	if dir := os.Getenv(shotsChildEnv); dir != "" {
		if err := Screenshots(dir); err != nil {
			fmt.Fprintln(os.Stderr, "shots:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Screenshots opens the real window over a FakeBackend (never the real
// backend: it answers consent screens itself), walks through every screen
// and writes one PNG per screen into dir. It needs a display (Xvfb is fine)
// and blocks until done. It is test code: the tour and its fake are not
// part of the app.
func Screenshots(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	a := fyneapp.NewWithID(ID + ".screenshots")
	a.SetIcon(fyne.NewStaticResource("assent.png", assets.Icon()))
	a.Preferences().SetBool(prefFirstRunDone, false)
	a.Preferences().SetString(prefLanguage, "")
	fb := NewFakeBackend()
	fb.SetChecks([]Check{
		{Name: "Keyring", Problem: "No Secret Service is running, so there is nowhere safe to keep the key.",
			Fix: "Install and start gnome-keyring (or KeePassXC with Secret Service), then choose Check again."},
		{Name: "Encryption key", OK: true}, {Name: "Sound server", OK: true}, {Name: "Input device", OK: true},
	})
	base := time.Now().Add(-72 * time.Hour).Truncate(time.Minute)
	fb.AddRecording(Recording{Title: "Discovery call — Acme", Started: base, Duration: 34*time.Minute + 12*time.Second,
		Participants: []string{"Alice Jansen", "Bob de Vries"}, Size: 6 << 20, Sync: Synced})
	fb.AddRecording(Recording{Title: "Renewal — Globex", Started: base.Add(26 * time.Hour), Duration: 18 * time.Minute,
		Participants: []string{"Carla Smit"}, Size: 3 << 20, Sync: Uploading, Progress: 0.42})
	fb.AddRecording(Recording{Title: "Coaching session", Started: base.Add(50 * time.Hour), Duration: 7*time.Minute + 40*time.Second,
		Participants: []string{"Dirk Bakker"}, Size: 1 << 20, Recovered: true})
	fb.StartClock()
	defer fb.StopClock()

	auto := filepath.Join(dir, "automation.json")
	os.Setenv("ASSENT_AUTOMATION", auto)
	u, err := New(a, fb, true)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		defer fyne.Do(a.Quit)
		errc <- tour(fb, u, dir)
	}()
	a.Run()
	return <-errc
}

func tour(fb *FakeBackend, u *UI, dir string) error {
	wait := func() { time.Sleep(700 * time.Millisecond) }
	time.Sleep(1500 * time.Millisecond)
	n := 0
	shot := func(name string) error {
		wait()
		n++
		file := filepath.Join(dir, fmt.Sprintf("%02d-%s.png", n, name))
		// Canvas.Capture reads black under Mesa's software GL; grab what
		// the X server shows instead (imagemagick's import), like a user sees it.
		if out, err := exec.Command("import", "-window", "root", file).CombinedOutput(); err != nil {
			return fmt.Errorf("screenshot %s: %v: %s (install imagemagick)", name, err, out)
		}
		return nil
	}
	do := func(f func()) { fyne.DoAndWait(f) }
	tap := func(name string) {
		do(func() {
			switch w := u.el[name].(type) {
			case *widget.Button:
				w.OnTapped()
			case *widget.Check:
				w.SetChecked(!w.Checked)
			}
		})
	}
	set := func(name, text string) {
		do(func() { u.el[name].(*widget.Entry).SetText(text) })
	}
	steps := []func() error{
		func() error { return shot("first-run") },
		func() error {
			fb.SetChecks([]Check{{Name: "Keyring", OK: true}, {Name: "Encryption key", OK: true}, {Name: "Sound server", OK: true}, {Name: "Input device", OK: true}})
			tap("check-again")
			tap("continue")
			set("title", "Discovery call — Acme")
			set("participant-0-name", "Alice Jansen")
			set("participant-0-email", "alice@acme.example")
			tap("add-participant")
			set("participant-1-name", "Bob de Vries")
			do(func() { u.el["participant-1-lang"].(*widget.Select).SetSelected("Nederlands") })
			tap("device-1")
			return shot("new-call")
		},
		func() error { tap("ask-consent"); return shot("consent-en") },
		// The two consents go through the real X server: xdotool clicks
		// where the automation file says the elements are.
		func() error {
			if err := xclick(u.automation, "consent", "age", "agree"); err != nil {
				return err
			}
			wait()
			return shot("consent-nl")
		},
		// Bob's consent link (text + QR code) once the device is enrolled;
		// kept apart from the numbered tour.
		func() error {
			if err := fb.Enrol("https://assent.acme.example", "A1B2C3D4"); err != nil {
				return err
			}
			tap("remote")
			wait()
			file := filepath.Join(dir, "consent-link.png")
			if out, err := exec.Command("import", "-window", "root", file).CombinedOutput(); err != nil {
				return fmt.Errorf("screenshot consent-link: %v: %s", err, out)
			}
			do(func() {
				if u.linkDialog != nil {
					u.linkDialog.Hide()
				}
			})
			wait()
			return nil
		},
		func() error {
			if err := xclick(u.automation, "consent", "age", "agree"); err != nil {
				return err
			}
			if err := waitScreen(u.automation, "recording"); err != nil {
				return err
			}
			time.Sleep(2 * time.Second)
			return shot("recording")
		},
		func() error {
			tap("joined")
			wait()
			do(func() { u.el["join-name"].(*widget.Entry).SetText("Eva Mulder") })
			return shot("someone-joined")
		},
		func() error {
			do(func() {
				if u.joinDialog != nil {
					u.joinDialog.Hide()
				}
			})
			tap("pause")
			return shot("paused")
		},
		func() error { tap("pause"); time.Sleep(time.Second); tap("stop"); return shot("saved") },
		func() error {
			do(func() {
				for u.win.Canvas().Overlays().Top() != nil {
					u.win.Canvas().Overlays().Remove(u.win.Canvas().Overlays().Top())
				}
				u.el["list"].(*widget.List).Select(1)
			})
			return shot("library")
		},
		func() error { tap("delete"); return shot("delete-confirm") },
		func() error {
			do(func() {
				for u.win.Canvas().Overlays().Top() != nil {
					u.win.Canvas().Overlays().Remove(u.win.Canvas().Overlays().Top())
				}
				u.tabs.SelectIndex(2)
			})
			return shot("settings")
		},
		func() error {
			do(func() { u.tabs.SelectIndex(0) })
			tap("ask-consent")
			return shot("error-dialog")
		},
		func() error {
			do(func() {
				for u.win.Canvas().Overlays().Top() != nil {
					u.win.Canvas().Overlays().Remove(u.win.Canvas().Overlays().Top())
				}
				setUILanguage("nl")
				u.showHome(1)
			})
			return shot("library-nl")
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	if n == 0 {
		return fmt.Errorf("no screenshots taken in %s", dir)
	}
	return nil
}

// readAutomation reads the automation file.
func readAutomation(file string) (automationState, error) {
	var st automationState
	data, err := os.ReadFile(file)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(data, &st)
}

// waitScreen waits until the automation file reports screen.
func waitScreen(file, screen string) error {
	var last string
	for i := 0; i < 50; i++ {
		if st, err := readAutomation(file); err == nil {
			if st.Screen == screen {
				return nil
			}
			last = st.Screen
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the app did not reach screen %q (it is on %q)", screen, last)
}

// xclick clicks the named elements of screen with xdotool, at the centres
// the automation file reports, offset by the window's position on the X screen.
func xclick(file, screen string, names ...string) error {
	if err := waitScreen(file, screen); err != nil {
		return err
	}
	out, err := exec.Command("xdotool", "search", "--name", "Assent", "getwindowgeometry", "--shell").Output()
	if err != nil {
		return fmt.Errorf("xdotool cannot find the window: %v (install xdotool)", err)
	}
	var wx, wy int
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "X="); ok {
			wx, _ = strconv.Atoi(v)
		}
		if v, ok := strings.CutPrefix(line, "Y="); ok {
			wy, _ = strconv.Atoi(v)
		}
	}
	for _, n := range names {
		var e automationEl
		for i := 0; i < 30; i++ {
			st, err := readAutomation(file)
			if err == nil && st.Elements[n].W > 0 && st.Elements[n].Visible {
				e = st.Elements[n]
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if e.W == 0 {
			return fmt.Errorf("element %q never appeared on screen %q", n, screen)
		}
		x, y := strconv.Itoa(wx+e.CX), strconv.Itoa(wy+e.CY)
		// Move first and let GLFW see the pointer arrive, then click.
		if out, err := exec.Command("xdotool", "mousemove", x, y).CombinedOutput(); err != nil {
			return fmt.Errorf("xdotool move to %s: %v: %s", n, err, out)
		}
		time.Sleep(250 * time.Millisecond)
		if out, err := exec.Command("xdotool", "mousedown", "1", "sleep", "0.1", "mouseup", "1").CombinedOutput(); err != nil {
			return fmt.Errorf("xdotool click on %s: %v: %s", n, err, out)
		}
		time.Sleep(400 * time.Millisecond)
	}
	return nil
}
