package app

import (
	"testing"

	"fyne.io/fyne/v2"
)

// trayApp is a test app with a system tray that keeps the last menu.
type trayApp struct {
	fyne.App
	menu *fyne.Menu
}

func (a *trayApp) SetSystemTrayMenu(m *fyne.Menu)  { a.menu = m }
func (a *trayApp) SetSystemTrayIcon(fyne.Resource) {}
func (a *trayApp) SetSystemTrayWindow(fyne.Window) {}
func (a *trayApp) item(label string) *fyne.MenuItem {
	for _, it := range a.menu.Items {
		if it.Label == label {
			return it
		}
	}
	return nil
}

// The tray shows the call's status (idle, asking, recording, paused) and
// offers Show and a quick Stop while a call runs.
func TestTrayStatusAndQuickStop(t *testing.T) {
	u, fb := newTestUI(t, true)
	ta := &trayApp{App: u.app}
	u.app = ta
	u.enableTray()
	status := func() string { return ta.menu.Items[0].Label }
	if status() != "Not recording" || ta.item("Show Assent") == nil || !ta.item("Stop recording").Disabled {
		t.Fatalf("idle tray: %q, stop disabled %v", status(), ta.item("Stop recording").Disabled)
	}
	startCall(t, u, "Alice")
	u.updateTitle()
	if status() != "Asking for consent" {
		t.Errorf("asking: tray says %q", status())
	}
	agree(t, u)
	ticks(fb, 100)
	u.Refresh()
	if status() != "● Recording 0:02" || ta.item("Stop recording").Disabled {
		t.Errorf("recording: tray says %q, stop disabled %v", status(), ta.item("Stop recording").Disabled)
	}
	if err := u.call.Pause(); err != nil {
		t.Fatal(err)
	}
	u.Refresh()
	if status() != "❚❚ Paused 0:02" {
		t.Errorf("paused: tray says %q", status())
	}
	ta.item("Stop recording").Action()
	if u.call != nil || status() != "Not recording" {
		t.Errorf("after quick stop: call %v, tray %q", u.call, status())
	}
	if recs, _ := fb.Recordings(); len(recs) != 1 {
		t.Errorf("quick stop saved %d recordings", len(recs))
	}
}
