package app

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// A refusal keeps the title and the participant rows for another try.
func TestNoRetyping_RefusalKeepsTitleAndRows(t *testing.T) {
	u, fb := newTestUI(t, true)
	startCall(t, u, "Alice", "Bob")
	test.Tap(el[*widget.Button](t, u, "decline")) // Alice declines
	closeOverlays(u)
	if u.screen != "new-call" {
		t.Fatalf("after refusal: screen %q", u.screen)
	}
	if got := el[*widget.Entry](t, u, "title").Text; got != "Intro call with Acme" {
		t.Errorf("title after refusal %q", got)
	}
	for i, want := range []string{"Alice", "Bob"} {
		if got := el[*widget.Entry](t, u, nameKey(i)).Text; got != want {
			t.Errorf("participant %d after refusal %q, want %q", i, got, want)
		}
	}
	// Once a call was recorded, the next new call starts empty.
	test.Tap(el[*widget.Button](t, u, "ask-consent"))
	agree(t, u)
	agree(t, u)
	ticks(fb, 50)
	u.stopCall()
	closeOverlays(u)
	u.tabs.SelectIndex(0)
	if got := el[*widget.Entry](t, u, "title").Text; got != "" {
		t.Errorf("after a recorded call the title is still %q", got)
	}
}

// "Cancel call" on the consent screen keeps them too.
func TestNoRetyping_CancelKeepsTitleAndRows(t *testing.T) {
	u, _ := newTestUI(t, true)
	startCall(t, u, "Alice", "Bob")
	agree(t, u)
	test.Tap(el[*widget.Button](t, u, "cancel"))
	if u.screen != "new-call" || u.call != nil {
		t.Fatalf("after cancel: screen %q", u.screen)
	}
	if el[*widget.Entry](t, u, "title").Text != "Intro call with Acme" || el[*widget.Entry](t, u, nameKey(1)).Text != "Bob" {
		t.Errorf("cancel lost what was typed: %q / %q", el[*widget.Entry](t, u, "title").Text, el[*widget.Entry](t, u, nameKey(1)).Text)
	}
}

// The consent screen says who agreed and who is still to answer.
func TestConsentScreenShowsWhoAgreed(t *testing.T) {
	u, _ := newTestUI(t, true)
	startCall(t, u, "Alice", "Bob", "Carla")
	if got := el[*widget.Label](t, u, "consent-progress").Text; got != "Agreed: nobody yet · Still to answer: Alice, Bob, Carla" {
		t.Errorf("before anyone answered: %q", got)
	}
	agree(t, u)
	if got := el[*widget.Label](t, u, "consent-progress").Text; got != "Agreed: Alice · Still to answer: Bob, Carla" {
		t.Errorf("after Alice agreed: %q", got)
	}
}

// An untitled call is named after who is on it and when.
func TestUntitledCallGetsUsefulTitle(t *testing.T) {
	u, _ := newTestUI(t, true)
	test.Type(el[*widget.Entry](t, u, nameKey(0)), "Alice")
	test.Tap(el[*widget.Button](t, u, "ask-consent"))
	if !strings.HasPrefix(u.callTitle, "Call with Alice, ") || !strings.Contains(u.callTitle, time.Now().Format("2006")) {
		t.Errorf("untitled call is called %q", u.callTitle)
	}
	s := CallSetup{Participants: []ParticipantInfo{{Name: "A"}, {Name: "B"}, {Name: "C"}, {Name: "D"}, {Name: "E"}}}
	if got := untitled(s, time.Date(2026, 12, 2, 14, 5, 0, 0, time.UTC)); got != "Call with A, B, C, 2 more, 2 December 2026, 14:05" {
		t.Errorf("five participants: %q", got)
	}
	setUILanguage("nl")
	defer setUILanguage("en")
	if got := untitled(s, time.Date(2026, 12, 2, 14, 5, 0, 0, time.UTC)); !strings.HasSuffix(got, ", 2 december 2026 14:05") || strings.Contains(got, "December") {
		t.Errorf("in Dutch the date is Dutch: %q", got)
	}
}
