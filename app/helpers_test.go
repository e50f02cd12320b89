package app

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// newTestUI builds the real UI over a FakeBackend in a test app (no display).
func newTestUI(t testing.TB, firstRunDone bool) (*UI, *FakeBackend) {
	t.Helper()
	a := test.NewTempApp(t)
	a.Preferences().SetBool(prefFirstRunDone, firstRunDone)
	setUILanguage("en")
	fb := NewFakeBackend()
	u, err := New(a, fb, false)
	if err != nil {
		t.Fatal(err)
	}
	u.WaitChecks()
	u.win.Resize(fyne.NewSize(1000, 700))
	return u, fb
}

// walk visits o and everything inside it (containers and widget renderers).
func walk(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	if o == nil {
		return
	}
	f(o)
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			walk(c, f)
		}
	case fyne.Widget:
		r := test.WidgetRenderer(x)
		if r == nil {
			return
		}
		for _, c := range r.Objects() {
			walk(c, f)
		}
	}
}

// texts returns all visible label/rich text/button text under o.
func texts(o fyne.CanvasObject) string {
	var b strings.Builder
	walk(o, func(c fyne.CanvasObject) {
		if !c.Visible() {
			return
		}
		switch x := c.(type) {
		case *widget.Label:
			b.WriteString(x.Text + "\n")
		case *widget.Button:
			b.WriteString(x.Text + "\n")
		case *widget.RichText:
			b.WriteString(x.String() + "\n")
		case *widget.Check:
			b.WriteString(x.Text + "\n")
		}
	})
	return b.String()
}

// topOverlay is the top dialog, or nil.
func topOverlay(u *UI) fyne.CanvasObject { return u.win.Canvas().Overlays().Top() }

// overlayText is the text of the top dialog ("" if none).
func overlayText(u *UI) string {
	o := topOverlay(u)
	if o == nil {
		return ""
	}
	// Fyne capitalises error dialogs; compare case-insensitively.
	return strings.ToLower(texts(o))
}

// tapOverlayButton taps the button with text in the top dialog.
func tapOverlayButton(t testing.TB, u *UI, text string) {
	t.Helper()
	o := topOverlay(u)
	if o == nil {
		t.Fatalf("no dialog open; wanted button %q", text)
	}
	var found *widget.Button
	walk(o, func(c fyne.CanvasObject) {
		if b, ok := c.(*widget.Button); ok && b.Text == text && found == nil {
			found = b
		}
	})
	if found == nil {
		t.Fatalf("dialog has no button %q; dialog text:\n%s", text, overlayText(u))
	}
	test.Tap(found)
}

// closeOverlays dismisses all dialogs.
func closeOverlays(u *UI) {
	for u.win.Canvas().Overlays().Top() != nil {
		u.win.Canvas().Overlays().Remove(u.win.Canvas().Overlays().Top())
	}
}

func el[T any](t testing.TB, u *UI, name string) T {
	t.Helper()
	o, ok := u.el[name]
	if !ok {
		t.Fatalf("screen %q has no element %q", u.screen, name)
	}
	v, ok := o.(T)
	if !ok {
		t.Fatalf("element %q is %T", name, o)
	}
	return v
}

// startCall fills the new-call screen and taps "Ask for consent".
func startCall(t testing.TB, u *UI, names ...string) {
	t.Helper()
	if u.screen != "new-call" {
		t.Fatalf("on screen %q, want new-call", u.screen)
	}
	test.Type(el[*widget.Entry](t, u, "title"), "Intro call with Acme")
	for i, n := range names {
		if i > 0 {
			test.Tap(el[*widget.Button](t, u, "add-participant"))
		}
		test.Type(el[*widget.Entry](t, u, nameKey(i)), n)
	}
	test.Tap(el[*widget.Button](t, u, "ask-consent"))
}

func nameKey(i int) string { return "participant-" + string(rune('0'+i)) + "-name" }

// agree confirms age and taps "I agree" for the participant on screen.
func agree(t testing.TB, u *UI) {
	t.Helper()
	if u.screen != "consent" {
		t.Fatalf("on screen %q, want consent", u.screen)
	}
	test.Tap(el[*widget.Check](t, u, "age"))
	test.Tap(el[*widget.Button](t, u, "agree"))
}

func ticks(fb *FakeBackend, n int) {
	for i := 0; i < n; i++ {
		fb.Tick()
	}
}
