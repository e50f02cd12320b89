package app

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

func findButton(o fyne.CanvasObject, text string) *widget.Button {
	var b *widget.Button
	walk(o, func(c fyne.CanvasObject) {
		if x, ok := c.(*widget.Button); ok && x.Text == text && b == nil {
			b = x
		}
	})
	return b
}

// TestCallNoticeOpensNewCallTitledFromTheApp: a call application taking
// the microphone gives one desktop notification and, in the window, one
// click to New call titled from the application. Nothing starts by itself.
func TestCallNoticeOpensNewCallTitledFromTheApp(t *testing.T) {
	u, _ := newTestUI(t, true)
	n := CallNotice{App: "Zoom", Title: "Zoom call", Message: "Zoom is using your microphone — record this call with everyone's consent?"}
	test.AssertNotificationSent(t, fyne.NewNotification("Assent", n.Message), func() { u.callNoticed(n) })
	if u.call != nil {
		t.Fatal("a call was started by the notice")
	}
	ov := u.win.Canvas().Overlays().Top()
	if ov == nil {
		t.Fatal("no prompt in the window")
	}
	b := findButton(ov, "New call")
	if b == nil {
		t.Fatalf("no New call button in the prompt: %q", texts(ov))
	}
	test.Tap(b)
	e, ok := u.el["title"].(*widget.Entry)
	if !ok || e.Text != "Zoom call" || u.tabs.SelectedIndex() != 0 {
		t.Fatalf("after the click: screen %q, title %v", u.screen, u.el["title"])
	}
	if u.call != nil {
		t.Fatal("a call was started without consent being asked")
	}
}

// TestCallNoticeSwitchedOffInSettings: the settings switch turns the call
// notices off (the watcher asks it before every notice).
func TestCallNoticeSwitchedOffInSettings(t *testing.T) {
	u, _ := newTestUI(t, true)
	if !u.callWatchOn() {
		t.Fatal("call notices are off by default")
	}
	c := u.callWatchSetting().(*widget.Check)
	test.Tap(c)
	if u.callWatchOn() {
		t.Fatal("still on after switching off")
	}
}

// TestCallAudioNoneWarns: choosing "(none)" for the call audio says the
// other side will not be recorded; the default is what the computer plays.
func TestCallAudioNoneWarns(t *testing.T) {
	u, fb := newTestUI(t, true)
	devs, _ := fb.Devices()
	sel, warn := u.callDeviceSelect()
	fillCallSelect(sel, warn, devs, []string{"Laptop speakers — call audio"}, "")
	if sel.Selected != "Laptop speakers — call audio" || warn.Text != "Recording everything this computer plays." {
		t.Fatalf("default call audio %q, note %q", sel.Selected, warn.Text)
	}
	sel.SetSelected("(none)")
	if !strings.Contains(warn.Text, "will not be recorded") {
		t.Fatalf("no warning for (none): %q", warn.Text)
	}
	sel2, warn2 := u.callDeviceSelect()
	fillCallSelect(sel2, warn2, devs, []string{"Laptop speakers — call audio"}, CallNone)
	if sel2.Selected != "(none)" {
		t.Fatalf("stored none shows %q", sel2.Selected)
	}
}

// TestNewCallMetersBothSidesByDefault: the microphone and the call audio
// are both chosen (and metered) on New call without any setting.
func TestNewCallMetersBothSidesByDefault(t *testing.T) {
	u, _ := newTestUI(t, true)
	u.showHome(0)
	for _, k := range []string{"device-0", "device-1"} {
		c, ok := u.el[k].(*widget.Check)
		if !ok || !c.Checked {
			t.Fatalf("%s not checked by default: %v", k, u.el[k])
		}
	}
	if c := u.el["device-1"].(*widget.Check); !strings.Contains(c.Text, "call audio") {
		t.Fatalf("second device %q is not the call audio", c.Text)
	}
}

// TestCallAudioSaysWhichSoundIsRecorded: the settings say whether only the
// call app's sound or everything the computer plays is recorded.
func TestCallAudioSaysWhichSoundIsRecorded(t *testing.T) {
	u, _ := newTestUI(t, true)
	devs := []Device{
		{ID: "default-call", Name: "What this computer plays", Call: true, Default: true},
		{ID: "app", Name: "Only the call app (Zoom)", Call: true, OnlyApp: true},
		{ID: "app:Zoom", Name: "Only Zoom's sound", Call: true, OnlyApp: true, App: "Zoom"},
	}
	names := []string{devs[0].Name, devs[1].Name, devs[2].Name}
	sel, note := u.callDeviceSelect()
	fillCallSelect(sel, note, devs, names, "app:Zoom")
	if sel.Selected != "Only Zoom's sound" || note.Text != "Recording only Zoom's sound — not notifications, music or other apps." {
		t.Fatalf("chosen %q, note %q", sel.Selected, note.Text)
	}
	sel.SetSelected(devs[1].Name)
	if !strings.HasPrefix(note.Text, "Recording only the sound of the call app that uses the microphone") {
		t.Fatalf("note for the call app using the microphone: %q", note.Text)
	}
	sel.SetSelected(devs[0].Name)
	if note.Text != "Recording everything this computer plays." {
		t.Fatalf("note for everything: %q", note.Text)
	}
	setUILanguage("nl")
	defer setUILanguage("")
	if got := callNote(devs, devs[2].Name); got != "Alleen het geluid van Zoom wordt opgenomen — geen meldingen, muziek of andere apps." {
		t.Fatalf("Dutch note %q", got)
	}
}
