package app

import (
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Start-up checks run off the UI goroutine: the window is drawn first, the
// backend's Checks (keyring, sound server — each bounded by the backend)
// run in the background, and their result is shown when it arrives. A run
// in progress is joined, never started twice.

// ChecksTimeout bounds a whole check run as the UI sees it, in case a
// backend's Checks does not bound its own calls.
var ChecksTimeout = 20 * time.Second

type startupChecks struct {
	running bool
	result  []Check
	waiters []func([]Check)
	onDone  map[string]func() // per screen: refresh what depends on the checks (devices)
	wg      sync.WaitGroup    // tests wait for a run with WaitChecks
}

// runChecks runs the backend's checks in the background; done (if not
// nil) runs on the UI goroutine with the result.
func (u *UI) runChecks(done func([]Check)) {
	c := &u.checks
	if done != nil {
		c.waiters = append(c.waiters, done)
	}
	if c.running {
		return
	}
	c.running = true
	if !u.live {
		// Tests drive the UI from their own goroutine (Fyne's test driver
		// runs fyne.Do in place): check in place too.
		c.running, c.result = false, u.b.Checks()
		ws := c.waiters
		c.waiters = nil
		for _, w := range ws {
			w(c.result)
		}
		for _, f := range c.onDone {
			f()
		}
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		res := make(chan []Check, 1)
		go func() { res <- u.b.Checks() }()
		var cs []Check
		select {
		case cs = <-res:
		case <-time.After(ChecksTimeout):
			cs = []Check{{Name: "Checks", Problem: "The checks did not finish in time.", Fix: "Choose Check again."}}
		}
		fyne.DoAndWait(func() {
			c.running = false
			c.result = cs
			ws := c.waiters
			c.waiters = nil
			for _, w := range ws {
				w(cs)
			}
			for _, f := range c.onDone {
				f()
			}
		})
	}()
}

// WaitChecks waits until no check run is in progress (for tests).
func (u *UI) WaitChecks() { u.checks.wg.Wait() }

// whenChecked registers f to run (on the UI goroutine) after every check
// run, for the screen named name (a rebuilt screen replaces its hook).
func (u *UI) whenChecked(name string, f func()) {
	if u.checks.onDone == nil {
		u.checks.onDone = map[string]func(){}
	}
	u.checks.onDone[name] = f
}

// fillChecks shows the checks on the first-run screen: progress while they
// run, then each result with what to do about it.
func (u *UI) fillChecks(list *fyne.Container, cont, again *widget.Button) {
	list.RemoveAll()
	bar := widget.NewProgressBarInfinite()
	list.Add(container.NewVBox(widget.NewLabel(lang.L("Checking the keyring and the sound server…")), bar))
	again.Disable()
	u.runChecks(func(checks []Check) {
		bar.Stop()
		list.RemoveAll()
		for _, c := range checks {
			icon := widget.NewIcon(theme.ConfirmIcon())
			text := lang.L(c.Name) + ": " + lang.L("ready")
			if !c.OK {
				icon = widget.NewIcon(theme.ErrorIcon())
				text = lang.L(c.Name) + ": " + lang.L(c.Problem)
				if c.Fix != "" {
					text += "\n" + lang.L("How to fix:") + " " + lang.L(c.Fix)
				}
			}
			list.Add(container.NewBorder(nil, nil, icon, nil, wrapLabel(text)))
		}
		again.Enable()
		if allOK(checks) {
			cont.SetText(lang.L("Continue"))
		} else {
			cont.SetText(lang.L("Continue without recording"))
		}
		u.writeAutomation()
	})
}

// startupChecked reports failed checks of a start after the first run: a
// dialog names what does not work and offers the checks screen. Nothing
// the rep typed is lost (the home screen stays).
func (u *UI) startupChecked(checks []Check) {
	if allOK(checks) || u.call != nil {
		return
	}
	var problems []string
	for _, c := range checks {
		if !c.OK {
			problems = append(problems, lang.L(c.Name)+": "+lang.L(c.Problem))
		}
	}
	msg := wrapLabel(strings.Join(problems, "\n"))
	d := dialog.NewCustomConfirm(lang.L("Assent cannot record yet"), lang.L("Show the checks"), lang.L("Close"), msg, func(ok bool) {
		if ok && u.call == nil {
			u.showFirstRun()
		}
	}, u.win)
	d.Resize(fyne.NewSize(560, 260))
	d.Show()
}
