package app

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/widget"
)

// CallNotice says a call application started using the microphone.
type CallNotice struct {
	App     string // "Zoom"
	Title   string // title for New call: "Zoom call"
	Message string // "Zoom is using your microphone — record this call with everyone's consent?"
}

// CallWatcher is an optional Backend capability: it notices call
// applications taking the microphone. It never captures or records.
type CallWatcher interface {
	// WatchCalls runs until ctx is done, calling notify (from any
	// goroutine) when a call starts and enabled() is true.
	WatchCalls(ctx context.Context, enabled func() bool, notify func(CallNotice)) error
}

// prefCallWatch switches the call notices off (default on).
const prefCallWatch = "callWatch"

func (u *UI) callWatchOn() bool { return u.app.Preferences().BoolWithFallback(prefCallWatch, true) }

// startCallWatch runs the backend's call watcher while the app runs (live
// only): a desktop notification, and in the window one click to open New
// call titled from the application.
func (u *UI) startCallWatch() {
	cw, ok := u.b.(CallWatcher)
	if !ok || !u.live {
		return
	}
	go func() {
		_ = cw.WatchCalls(context.Background(), u.callWatchOn, func(n CallNotice) {
			fyne.Do(func() { u.callNoticed(n) })
		})
	}()
}

// callNoticed tells the user about a call; it never starts anything.
func (u *UI) callNoticed(n CallNotice) {
	if u.call != nil {
		return // already on a call in Assent
	}
	msg := lang.X("call.noticed", "{{.App}} is using your microphone — record this call with everyone's consent?", map[string]any{"App": n.App})
	u.app.SendNotification(fyne.NewNotification("Assent", msg))
	d := dialog.NewConfirm(lang.L("A call started"), msg, func(yes bool) {
		if yes {
			u.openNewCall(n.Title)
		}
	}, u.win)
	d.SetConfirmText(lang.L("New call"))
	d.SetDismissText(lang.L("Not now"))
	d.Show()
	u.win.Show()
}

// openNewCall shows New call with its title filled in.
func (u *UI) openNewCall(title string) {
	u.showHome(0)
	if e, ok := u.el["title"].(*widget.Entry); ok {
		e.SetText(title)
	}
}

// callWatchSetting is the settings' switch for call notices.
func (u *UI) callWatchSetting() fyne.CanvasObject {
	c := widget.NewCheck(lang.L("Tell me when a call app (Zoom, Teams, …) starts using the microphone"), func(on bool) {
		u.app.Preferences().SetBool(prefCallWatch, on)
	})
	c.Checked = u.callWatchOn()
	return c
}

// CallNone is the CallDevice setting that records no call audio.
const CallNone = "none"

// callDeviceSelect is the settings' "Call audio" choice: the call sources
// (what this computer plays first) and "(none)", which shows a warning that
// the other side will not be recorded. An empty setting is the default
// source.
func (u *UI) callDeviceSelect() (*widget.Select, *widget.Label) {
	none := lang.L("(none)")
	warn := wrapLabel("")
	sel := widget.NewSelect([]string{none}, func(s string) {
		if s == none {
			warn.SetText(lang.L("The other side of the call will not be recorded — only your microphone."))
		} else {
			warn.SetText("")
		}
	})
	return sel, warn
}

// fillCallSelect sets the call-audio choices once the sound server listed
// its devices, keeping a choice the rep already made.
func fillCallSelect(sel *widget.Select, warn *widget.Label, devs []Device, callNames []string, cur string) {
	none := lang.L("(none)")
	// The settings say which sound is recorded: only the call app's, or
	// everything this computer plays.
	sel.OnChanged = func(s string) { warn.SetText(callNote(devs, s)) }
	sel.SetOptions(append(append([]string{}, callNames...), none))
	if sel.Selected != "" && sel.Selected != none {
		warn.SetText(callNote(devs, sel.Selected))
		return
	}
	switch {
	case cur == CallNone:
		sel.SetSelected(none)
	default:
		for _, d := range devs {
			if d.Call && (d.ID == cur || (cur == "" && d.Default)) {
				sel.SetSelected(d.Name)
			}
		}
		if sel.Selected == "" && len(callNames) == 0 {
			sel.SetSelected(none)
			warn.SetText(lang.L("This computer cannot record the other side of the call; only your microphone is recorded."))
		}
	}
}

// callNote says what the chosen call audio records.
func callNote(devs []Device, name string) string {
	if name == lang.L("(none)") {
		return lang.L("The other side of the call will not be recorded — only your microphone.")
	}
	for _, d := range devs {
		if !d.Call || d.Name != name {
			continue
		}
		switch {
		case d.OnlyApp && d.App != "":
			return lang.X("call.onlyapp", "Recording only {{.App}}'s sound — not notifications, music or other apps.", map[string]any{"App": d.App})
		case d.OnlyApp:
			return lang.L("Recording only the sound of the call app that uses the microphone (Zoom, Teams, …) — not notifications, music or other apps.")
		}
		return lang.L("Recording everything this computer plays.")
	}
	return ""
}
