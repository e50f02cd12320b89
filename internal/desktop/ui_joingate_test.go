package desktop

import (
	"io"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/assent-app/assent/app"
	"github.com/assent-app/assent/internal/jointest"
	"github.com/assent-app/assent/internal/testenv"
)

// walkUI visits o and everything inside it.
func walkUI(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	if o == nil || !o.Visible() {
		return
	}
	f(o)
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			walkUI(c, f)
		}
	case fyne.Widget:
		if r := test.WidgetRenderer(x); r != nil {
			for _, c := range r.Objects() {
				walkUI(c, f)
			}
		}
	}
}

// top is the top dialog if one is open, else the window's content.
func top(w fyne.Window) fyne.CanvasObject {
	if o := w.Canvas().Overlays().Top(); o != nil {
		return o
	}
	return w.Content()
}

func find[T fyne.CanvasObject](t *testing.T, w fyne.Window, what string, ok func(T) bool) T {
	t.Helper()
	var hit T
	found := false
	walkUI(top(w), func(o fyne.CanvasObject) {
		if x, is := o.(T); is && !found && ok(x) {
			hit, found = x, true
		}
	})
	if !found {
		t.Fatalf("no %s on screen; it shows:\n%s", what, screenText(w))
	}
	return hit
}

func button(t *testing.T, w fyne.Window, text string) *widget.Button {
	t.Helper()
	return find(t, w, "button "+text, func(b *widget.Button) bool { return b.Text == text })
}

func screenText(w fyne.Window) string {
	var b strings.Builder
	walkUI(top(w), func(o fyne.CanvasObject) {
		switch x := o.(type) {
		case *widget.Label:
			b.WriteString(x.Text + "\n")
		case *widget.Button:
			b.WriteString("[" + x.Text + "]\n")
		case *widget.RichText:
			b.WriteString(x.String() + "\n")
		case *widget.Check:
			b.WriteString("☐ " + x.Text + "\n")
		}
	})
	return b.String()
}

// TestNoConsentNoAudio_AppJoinGatesAtOnce is the hard rule of a late joiner
// in the app: the real UI (Fyne test driver) over the real backend, capture
// from the real sound server. A tone plays throughout; the host taps
// "Someone joined", and while the form is open and while Cem reads the
// German notice a marker tone plays; Cem agrees, the marker plays again.
// The decoded recording and its record show nothing was admitted between
// the join and his consent.
func TestNoConsentNoAudio_AppJoinGatesAtOnce(t *testing.T) {
	testenv.RequirePulse(t)
	// The private sink exists before the backend lists the devices, so the
	// new-call screen offers (and, as the chosen input, checks) its monitor.
	sink := jointest.PrivateSink(t)
	b := newBackend(t)
	dir := t.TempDir()
	tone := jointest.WriteTone(t, dir, "tone.wav", jointest.ToneHz, 40, 0.3)
	marker := jointest.WriteTone(t, dir, "marker.wav", jointest.MarkerHz, 1.2, 0.3)
	jointest.PlayBackground(t, sink, tone)

	a := test.NewTempApp(t)
	a.Preferences().SetBool("firstRunDone", true)
	// Capture exactly what the private sink plays, alone (mono): the
	// default microphone and the default output's monitor are not it.
	a.Preferences().SetString("inputDevice", jointest.Source(sink))
	a.Preferences().SetString("callDevice", "none")
	u, err := app.New(a, b, false)
	if err != nil {
		t.Fatal(err)
	}
	w := u.Window()
	w.Resize(fyne.NewSize(1100, 800))
	name := find(t, w, "participant name", func(e *widget.Entry) bool { return e.PlaceHolder == "Name" })
	test.Type(name, "Ana Host")
	test.Tap(button(t, w, "Ask for consent"))
	test.Tap(find(t, w, "age box", func(c *widget.Check) bool { return strings.Contains(c.Text, "16") }))
	test.Tap(button(t, w, "I agree"))
	button(t, w, "Someone joined") // the recording screen
	time.Sleep(2500 * time.Millisecond)
	u.Refresh()

	test.Tap(button(t, w, "Someone joined"))
	// The form is open: the host is typing. Nothing may be recorded now.
	jointest.Play(t, sink, marker)
	test.Type(find(t, w, "joiner name", func(e *widget.Entry) bool { return e.PlaceHolder == "Name" }), "Cem Joiner")
	find(t, w, "language", func(s *widget.Select) bool { return true }).SetSelected("Deutsch")
	test.Tap(button(t, w, "Ask for consent"))
	// Cem reads the notice in German.
	if s := screenText(w); !strings.Contains(s, "Acme BV") || !strings.Contains(s, "Cem Joiner") {
		t.Fatalf("Cem is not shown the notice:\n%s", s)
	}
	jointest.Play(t, sink, marker)
	time.Sleep(800 * time.Millisecond)
	test.Tap(find(t, w, "age box", func(c *widget.Check) bool { return strings.Contains(c.Text, "16") }))
	agreeBtn := find(t, w, "agree button", func(b *widget.Button) bool { return b.Importance == widget.SuccessImportance })
	if agreeBtn.Text == "I agree" {
		t.Errorf("Cem's agree button is in English")
	}
	test.Tap(agreeBtn)
	stop := button(t, w, "Stop")
	time.Sleep(1500 * time.Millisecond)
	jointest.Play(t, sink, marker)
	time.Sleep(1500 * time.Millisecond)
	test.Tap(stop)

	recs, err := b.Recordings()
	if err != nil || len(recs) != 1 {
		t.Fatalf("library after the call: %v %v", recs, err)
	}
	record, err := b.v.Record(recs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := b.v.OpenStream(recs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := io.ReadAll(rd)
	rd.Close()
	if err != nil {
		t.Fatal(err)
	}
	res := jointest.Check(t, record, b.v.SigningPublicKey(), stream, "Cem Joiner")
	t.Logf("app join gate: %s", res)
}
