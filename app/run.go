package app

import (
	"encoding/json"
	"os"
	"sort"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/widget"

	"github.com/assent-app/assent/assets"
)

// ID is the application ID (reverse DNS, no hyphens).
const ID = "app.assent.recorder"

// Run opens the main window over b and blocks until the app quits. The
// first screen is drawn before b is asked anything slow: the start-up
// checks (keyring, sound server) run in the background afterwards. The
// caller (main.go) builds b; no backend is chosen here.
func Run(b Backend) error {
	a := fyneapp.NewWithID(ID)
	a.SetIcon(fyne.NewStaticResource("assent.png", assets.Icon()))
	if _, err := New(a, b, true); err != nil {
		return err
	}
	a.Run()
	return nil
}

// automationState is what ASSENT_AUTOMATION=<file> receives after every
// screen change: the current screen and the centre of each named element
// in window pixels, for xdotool-driven real-window tests.
type automationState struct {
	Screen   string                  `json:"screen"`
	Title    string                  `json:"title"`
	Scale    float32                 `json:"scale"`
	Elements map[string]automationEl `json:"elements"`
}

type automationEl struct {
	X, Y, W, H int  // window pixels: top-left and size
	CX, CY     int  // centre, where to click
	Visible    bool `json:"visible"`
}

// writeAutomation writes the automation file (atomic rename), if enabled.
func (u *UI) writeAutomation() {
	if u.automation == "" || (u.live && !u.shown) {
		return
	}
	st := u.automationSnapshot()
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return
	}
	tmp := u.automation + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		fyne.LogError("automation file", err)
		return
	}
	_ = os.Rename(tmp, u.automation)
}

func (u *UI) automationSnapshot() automationState {
	c := u.win.Canvas()
	scale := c.Scale()
	st := automationState{Screen: u.screen, Title: u.win.Title(), Scale: scale, Elements: map[string]automationEl{}}
	drv := u.app.Driver()
	names := make([]string, 0, len(u.el))
	for k := range u.el {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		o := u.el[k]
		if o == nil {
			continue
		}
		p := drv.AbsolutePositionForObject(o)
		s := o.Size()
		e := automationEl{X: int(p.X * scale), Y: int(p.Y * scale), W: int(s.Width * scale), H: int(s.Height * scale), Visible: o.Visible()}
		e.CX, e.CY = e.X+e.W/2, e.Y+e.H/2
		if _, ok := o.(*widget.Check); ok {
			// A check reacts only on its box and label, not the stretched space.
			e.CX = e.X + int(o.MinSize().Width*scale)/2
		}
		st.Elements[k] = e
	}
	return st
}
