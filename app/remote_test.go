package app

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// The host sends Bob a consent link; Bob agrees on his own device; the
// consent screen moves on by itself and the gate opens only then.
func TestNoConsentNoAudio_RemoteAnswerMovesConsentOn(t *testing.T) {
	u, fb := newTestUI(t, true)
	if err := fb.Enrol("https://assent.acme.example", "123456"); err != nil {
		t.Fatal(err)
	}
	startCall(t, u, "Alice", "Bob")
	agree(t, u) // Alice, on screen
	test.Tap(el[*widget.Button](t, u, "remote"))
	link := el[*widget.Entry](t, u, "link").Text
	if !strings.HasPrefix(link, "https://assent.acme.example/c/") {
		t.Fatalf("link %q", link)
	}
	if q := el[*canvas.Image](t, u, "qr"); q.Resource == nil || len(q.Resource.Content()) < 100 {
		t.Fatal("no QR code shown")
	}
	if !strings.Contains(overlayText(u), "waiting for bob") {
		t.Fatalf("dialog: %q", overlayText(u))
	}
	ticks(fb, 20)
	if u.call.State().Recorded != 0 {
		t.Fatal("recorded before Bob answered")
	}
	bob := u.call.State().Participants[1]
	if err := u.call.Decide(bob.ID, Decision{Agree: true, AgeConfirmed: true, Method: Remote, Lang: "en"}); err != nil {
		t.Fatal(err)
	}
	u.Refresh()
	if u.screen != "recording" {
		t.Fatalf("after Bob agreed remotely: screen %q, want recording", u.screen)
	}
	if !strings.Contains(texts(u.win.Content()), "Agreed on their own device") {
		t.Error("the recording screen does not say Bob agreed on his own device")
	}
}

func TestBadInputGetsClearError_ConsentLinkWithoutServer(t *testing.T) {
	u, _ := newTestUI(t, true)
	startCall(t, u, "Alice")
	test.Tap(el[*widget.Button](t, u, "remote"))
	if msg := overlayText(u); !strings.Contains(msg, "enrol this device") {
		t.Fatalf("without a server: %q", msg)
	}
	if u.screen != "consent" {
		t.Fatalf("screen %q", u.screen)
	}
}
