package app

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/assent-app/assent/consent"
)

func TestNoConsentNoAudio_GateClosedUntilEveryoneAgreed(t *testing.T) {
	u, fb := newTestUI(t, true)
	startCall(t, u, "Alice", "Bob")
	if u.screen != "consent" {
		t.Fatalf("after Ask for consent: screen %q, want consent (dialog: %s)", u.screen, overlayText(u))
	}
	if !strings.Contains(texts(u.win.Content()), "Alice") {
		t.Fatal("consent screen does not name the first participant")
	}
	ticks(fb, 50)
	if got := u.call.State().Recorded; got != 0 {
		t.Fatalf("recorded %s before anyone agreed", got)
	}
	agree(t, u)
	if u.screen != "consent" || !strings.Contains(texts(u.win.Content()), "Bob") {
		t.Fatalf("after Alice agreed: screen %q, want Bob's consent", u.screen)
	}
	ticks(fb, 50)
	if got := u.call.State().Recorded; got != 0 {
		t.Fatalf("recorded %s with only Alice's consent", got)
	}
	agree(t, u)
	if u.screen != "recording" {
		t.Fatalf("after everyone agreed: screen %q, want recording", u.screen)
	}
	ticks(fb, 50)
	u.Refresh()
	if got := u.call.State().Recorded; got != 50*BufferDuration {
		t.Fatalf("recorded %s after everyone agreed, want %s", got, 50*BufferDuration)
	}
	if got := el[*widget.Label](t, u, "timer").Text; got != "0:01" {
		t.Errorf("timer shows %q, want 0:01", got)
	}
	if !strings.Contains(u.win.Title(), "Recording") {
		t.Errorf("window title %q does not say it is recording", u.win.Title())
	}
	test.Tap(el[*widget.Button](t, u, "stop"))
	recs, _ := fb.Recordings()
	if len(recs) != 1 || recs[0].Duration != time.Second || strings.Join(recs[0].Participants, ",") != "Alice,Bob" {
		t.Fatalf("library after stop: %+v", recs)
	}
	if u.screen != "library" {
		t.Errorf("after stop: screen %q, want library", u.screen)
	}
	if !strings.Contains(overlayText(u), "recording saved") {
		t.Errorf("no saved message; dialog: %q", overlayText(u))
	}
}

func TestNoConsentNoAudio_DeclineRecordsNothing(t *testing.T) {
	u, fb := newTestUI(t, true)
	startCall(t, u, "Alice", "Bob")
	agree(t, u)
	test.Tap(el[*widget.Button](t, u, "decline")) // Bob declines
	ticks(fb, 100)
	recs, _ := fb.Recordings()
	if len(recs) != 0 {
		t.Fatalf("a refusal stored %d recordings", len(recs))
	}
	msg := overlayText(u)
	if !strings.Contains(msg, "bob did not agree") || !strings.Contains(msg, "nothing was recorded") {
		t.Fatalf("refusal message is %q", msg)
	}
	if u.screen != "new-call" || u.call != nil {
		t.Fatalf("after refusal: screen %q, call %v", u.screen, u.call)
	}
}

func TestNoConsentNoAudio_AgreeNeedsAgeConfirmation(t *testing.T) {
	u, fb := newTestUI(t, true)
	startCall(t, u, "Alice")
	a := el[*widget.Button](t, u, "agree")
	if !a.Disabled() {
		t.Fatal("I agree is enabled before the age is confirmed")
	}
	test.Tap(a)
	if u.screen != "consent" {
		t.Fatalf("tapping a disabled I agree moved to %q", u.screen)
	}
	if !strings.Contains(el[*widget.Check](t, u, "age").Text, "16") {
		t.Errorf("age confirmation %q does not state the minimum age", el[*widget.Check](t, u, "age").Text)
	}
	ticks(fb, 10)
	if u.call.State().Recorded != 0 {
		t.Fatal("audio admitted without consent")
	}
}

func TestNoConsentNoAudio_LateJoinerPausesCapture(t *testing.T) {
	u, fb := newTestUI(t, true)
	startCall(t, u, "Alice")
	agree(t, u)
	ticks(fb, 25)
	test.Tap(el[*widget.Button](t, u, "joined"))
	test.Type(el[*widget.Entry](t, u, "join-name"), "Carol")
	el[*widget.Select](t, u, "join-lang").SetSelected("Nederlands")
	tapOverlayButton(t, u, "Ask for consent")
	if u.screen != "consent" {
		t.Fatalf("after someone joined: screen %q, want consent", u.screen)
	}
	ticks(fb, 100)
	st := u.call.State()
	if st.Recorded != 25*BufferDuration || st.Phase != PhaseHeld {
		t.Fatalf("while Carol has not agreed: recorded %s, phase %d", st.Recorded, st.Phase)
	}
	if !strings.Contains(u.win.Title(), "Waiting for consent") {
		t.Errorf("title %q does not show the hold", u.win.Title())
	}
	// Carol reads the notice in Dutch.
	if got := el[*widget.Button](t, u, "agree").Text; got != "Ik ga akkoord" {
		t.Errorf("agree button in Carol's language is %q", got)
	}
	agree(t, u)
	if u.screen != "recording" {
		t.Fatalf("after Carol agreed: screen %q", u.screen)
	}
	ticks(fb, 25)
	if got := u.call.State().Recorded; got != 50*BufferDuration {
		t.Fatalf("recorded %s, want 1s (hold must not count)", got)
	}
}

func TestNoConsentNoAudio_WithdrawalStopsAtOnce(t *testing.T) {
	u, fb := newTestUI(t, true)
	startCall(t, u, "Alice", "Bob")
	agree(t, u)
	agree(t, u)
	ticks(fb, 30)
	bob := u.call.State().Participants[1]
	test.Tap(el[*widget.Button](t, u, "withdraw-"+bob.ID))
	ticks(fb, 100)
	recs, _ := fb.Recordings()
	if len(recs) != 1 || recs[0].Duration != 30*BufferDuration {
		t.Fatalf("after withdrawal: %+v", recs)
	}
	if !strings.Contains(overlayText(u), "bob withdrew consent") {
		t.Errorf("withdrawal message %q", overlayText(u))
	}
	rc, _ := fb.Receipt(recs[0].ID)
	if !strings.Contains(rc, "ConsentWithdrawn by "+bob.ID) {
		t.Errorf("consent record lacks the withdrawal:\n%s", rc)
	}
}

func TestNoConsentNoAudio_PauseClosesGate(t *testing.T) {
	u, fb := newTestUI(t, true)
	startCall(t, u, "Alice")
	agree(t, u)
	ticks(fb, 10)
	p := el[*widget.Button](t, u, "pause")
	test.Tap(p)
	ticks(fb, 40)
	if got := u.call.State().Recorded; got != 10*BufferDuration {
		t.Fatalf("recorded %s while paused", got)
	}
	if p.Text != "Resume" || !strings.Contains(u.win.Title(), "Paused") {
		t.Errorf("pause button %q, title %q", p.Text, u.win.Title())
	}
	test.Tap(p)
	ticks(fb, 10)
	if got := u.call.State().Recorded; got != 20*BufferDuration {
		t.Fatalf("recorded %s after resume", got)
	}
}

func TestVerbalConsentIsMarkedAttested(t *testing.T) {
	u, _ := newTestUI(t, true)
	startCall(t, u, "Alice")
	test.Tap(el[*widget.Button](t, u, "verbal"))
	if !strings.Contains(overlayText(u), "alice") {
		t.Fatalf("verbal consent dialog %q does not name Alice", overlayText(u))
	}
	tapOverlayButton(t, u, "They agreed")
	if u.screen != "recording" {
		t.Fatalf("screen %q", u.screen)
	}
	p := u.call.State().Participants[0]
	if p.State != Given || p.Method != consent.VerbalAttested {
		t.Fatalf("participant %+v, want verbal attested consent", p)
	}
	if !strings.Contains(texts(u.win.Content()), "Agreed verbally (attested by host)") {
		t.Error("recording screen does not show the attested status")
	}
}

func TestConsentLanguageSwitch(t *testing.T) {
	u, _ := newTestUI(t, true)
	startCall(t, u, "Alice")
	if !strings.Contains(texts(u.win.Content()), "only if everyone agrees") {
		t.Fatal("English notice not shown")
	}
	el[*widget.Select](t, u, "language").SetSelected("Nederlands")
	txt := texts(u.win.Content())
	if !strings.Contains(txt, "alleen opgenomen als iedereen akkoord gaat") || !strings.Contains(txt, "Ik ga niet akkoord") ||
		!strings.Contains(txt, "Ik ben minstens 16 jaar oud") {
		t.Fatalf("Dutch notice not shown:\n%s", txt)
	}
	agree(t, u)
	if p := u.call.State().Participants[0]; p.Lang != "nl" {
		t.Fatalf("consent recorded in %q, want nl (the notice they read)", p.Lang)
	}
}

func TestDeleteMeansDelete_ConfirmsAndRemoves(t *testing.T) {
	u, fb := newTestUI(t, true)
	keep := fb.AddRecording(Recording{Title: "Keep me", Started: time.Now().Add(-time.Hour), Duration: time.Minute})
	gone := fb.AddRecording(Recording{Title: "Weekly sync", Started: time.Now(), Duration: time.Minute, Sync: Synced})
	u.tabs.SelectIndex(1)
	list := el[*widget.List](t, u, "list")
	list.Select(0)
	test.Tap(el[*widget.Button](t, u, "delete"))
	msg := overlayText(u)
	if !strings.Contains(msg, "weekly sync") || !strings.Contains(msg, "server will be deleted too") {
		t.Fatalf("delete confirmation %q does not say the server copy goes too", msg)
	}
	// The confirm button is red and names what is deleted.
	var confirm *widget.Button
	walk(topOverlay(u), func(c fyne.CanvasObject) {
		if b, ok := c.(*widget.Button); ok && strings.HasPrefix(b.Text, "Delete") {
			confirm = b
		}
	})
	if confirm == nil || confirm.Text != `Delete "Weekly sync"` || confirm.Importance != widget.DangerImportance {
		t.Fatalf("delete button %+v: want a red button naming the recording", confirm)
	}
	tapOverlayButton(t, u, `Delete "Weekly sync"`)
	recs, _ := fb.Recordings()
	if len(recs) != 1 || recs[0].ID != keep {
		t.Fatalf("after delete of %s: %+v", gone, recs)
	}
	if fb.Sync().Pending != 1 {
		t.Errorf("server deletion not queued: %+v", fb.Sync())
	}
	// A never-synced one says only the local copy exists.
	list.Select(0)
	test.Tap(el[*widget.Button](t, u, "delete"))
	if !strings.Contains(overlayText(u), "only the copy on this laptop") {
		t.Fatalf("local-only delete message %q", overlayText(u))
	}
	tapOverlayButton(t, u, "Cancel")
	if recs, _ := fb.Recordings(); len(recs) != 1 {
		t.Fatal("Cancel deleted the recording")
	}
}

func TestBadInputGetsClearError_Dialogs(t *testing.T) {
	u, fb := newTestUI(t, true)
	test.Tap(el[*widget.Button](t, u, "ask-consent"))
	if !strings.Contains(overlayText(u), "add at least one participant") {
		t.Fatalf("no participants: dialog %q", overlayText(u))
	}
	closeOverlays(u)
	test.Type(el[*widget.Entry](t, u, "participant-0-email"), "not-an-address")
	test.Tap(el[*widget.Button](t, u, "ask-consent"))
	if !strings.Contains(overlayText(u), "needs a name") {
		t.Fatalf("missing name: dialog %q", overlayText(u))
	}
	closeOverlays(u)
	test.Type(el[*widget.Entry](t, u, "participant-0-name"), "Alice")
	test.Tap(el[*widget.Button](t, u, "ask-consent"))
	if !strings.Contains(overlayText(u), "is not an e-mail address") {
		t.Fatalf("bad e-mail: dialog %q", overlayText(u))
	}
	closeOverlays(u)
	el[*widget.Entry](t, u, "participant-0-email").SetText("alice@example.org")
	fb.FailNext(errors.New("the keyring is locked; unlock it and try again"))
	test.Tap(el[*widget.Button](t, u, "ask-consent"))
	if !strings.Contains(overlayText(u), "keyring is locked") || u.screen != "new-call" {
		t.Fatalf("backend failure: screen %q dialog %q", u.screen, overlayText(u))
	}
	closeOverlays(u)

	// Settings: bad retention, bad server.
	u.tabs.SelectIndex(2)
	el[*widget.Entry](t, u, "retention").SetText("forever")
	test.Tap(el[*widget.Button](t, u, "save"))
	if !strings.Contains(overlayText(u), "whole number of days") {
		t.Fatalf("bad retention: dialog %q", overlayText(u))
	}
	closeOverlays(u)
	el[*widget.Entry](t, u, "server").SetText("ftp://x")
	test.Type(el[*widget.Entry](t, u, "code"), "ABCDEFGH")
	test.Tap(el[*widget.Button](t, u, "enrol"))
	if !strings.Contains(overlayText(u), "must start with https://") {
		t.Fatalf("bad server: dialog %q", overlayText(u))
	}
	if el[*widget.Entry](t, u, "code").Text != "" {
		t.Error("enrolment code left in the field after use")
	}
}

func TestBadInputGetsClearError_InDutch(t *testing.T) {
	u, _ := newTestUI(t, true)
	setUILanguage("nl")
	t.Cleanup(func() { setUILanguage("en") })
	test.Tap(el[*widget.Button](t, u, "ask-consent"))
	if !strings.Contains(overlayText(u), "voeg minstens één deelnemer toe") {
		t.Fatalf("error not translated: %q", overlayText(u))
	}
}

func TestFirstRunSaysWhatIsMissing(t *testing.T) {
	a := test.NewTempApp(t)
	setUILanguage("en")
	fb := NewFakeBackend()
	fb.SetChecks([]Check{{Name: "Keyring", Problem: "No Secret Service is running, so there is nowhere safe to keep the key.",
		Fix: "Install and start gnome-keyring (or KeePassXC with Secret Service), then choose Check again."}, {Name: "Sound server", OK: true}})
	u, err := New(a, fb, false)
	if err != nil {
		t.Fatal(err)
	}
	u.WaitChecks()
	if u.screen != "first-run" {
		t.Fatalf("screen %q, want first-run", u.screen)
	}
	txt := texts(u.win.Content())
	for _, want := range []string{"No Secret Service", "gnome-keyring", "Sound server: ready", "Continue without recording"} {
		if !strings.Contains(txt, want) {
			t.Errorf("first run lacks %q:\n%s", want, txt)
		}
	}
	fb.SetChecks([]Check{{Name: "Keyring", OK: true}})
	test.Tap(el[*widget.Button](t, u, "check-again"))
	u.WaitChecks()
	if got := el[*widget.Button](t, u, "continue").Text; got != "Continue" {
		t.Errorf("after fixing: continue button %q", got)
	}
	test.Tap(el[*widget.Button](t, u, "continue"))
	if u.screen != "new-call" || !a.Preferences().Bool(prefFirstRunDone) {
		t.Fatalf("after continue: screen %q", u.screen)
	}
	// Recording is refused with a clear message while a check fails.
	fb.SetChecks([]Check{{Name: "Keyring", Problem: "locked", Fix: "unlock it"}})
	startCall(t, u, "Alice")
	if !strings.Contains(overlayText(u), "cannot record") || u.call != nil {
		t.Fatalf("failing check did not refuse recording: %q", overlayText(u))
	}
}

func TestLibrarySearchPlaySeekReceiptExport(t *testing.T) {
	u, fb := newTestUI(t, true)
	base := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	fb.AddRecording(Recording{Title: "Acme intro", Started: base, Duration: 90 * time.Second, Participants: []string{"Alice"}, Size: 300 << 10, Recovered: true})
	fb.AddRecording(Recording{Title: "Globex renewal", Started: base.Add(time.Hour), Duration: 10 * time.Minute, Participants: []string{"Bob"}, Sync: Uploading, Progress: 0.42})
	u.tabs.SelectIndex(1)
	u.Refresh()
	txt := texts(u.win.Content())
	for _, want := range []string{"Acme intro", "Globex renewal", "Uploading 42%", "Recovered", "2 of 2 recordings", "300 kB"} {
		if !strings.Contains(txt, want) {
			t.Errorf("library lacks %q", want)
		}
	}
	test.Type(el[*widget.Entry](t, u, "search"), "bob")
	if !strings.Contains(texts(u.win.Content()), "1 of 2 recordings") {
		t.Fatal("search by participant did not filter")
	}
	el[*widget.List](t, u, "list").Select(0)
	test.Tap(el[*widget.Button](t, u, "play"))
	if el[*widget.Button](t, u, "play").Text != "Pause" {
		t.Error("play button did not turn into pause")
	}
	seek := el[*widget.Slider](t, u, "seek")
	seek.SetValue(300)
	seek.OnChangeEnded(300)
	if got := el[*widget.Label](t, u, "position").Text; !strings.HasPrefix(got, "5:00") {
		t.Errorf("after seek to 5:00 position shows %q", got)
	}
	seek.OnChangeEnded(100000)
	if !strings.Contains(overlayText(u), "cannot seek") {
		t.Errorf("seek past the end: dialog %q", overlayText(u))
	}
	closeOverlays(u)
	test.Tap(el[*widget.Button](t, u, "receipt"))
	if !strings.Contains(overlayText(u), "consent record") {
		t.Errorf("receipt dialog %q", overlayText(u))
	}
	closeOverlays(u)
	dir := t.TempDir()
	u.chooseDir = func(done func(string)) { done(dir) }
	test.Tap(el[*widget.Button](t, u, "export"))
	// Export warns first that the copy is not encrypted; nothing is written yet.
	if w := overlayText(u); !strings.Contains(w, "not encrypted") || len(fb.Exports()) != 0 {
		t.Fatalf("export did not warn before writing: %q, exports %v", w, fb.Exports())
	}
	tapOverlayButton(t, u, "Choose folder…")
	if ex := fb.Exports(); len(ex) != 1 || filepath.Dir(ex[0]) != dir {
		t.Fatalf("exports %v", ex)
	}
	if _, err := os.Stat(fb.Exports()[0]); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(overlayText(u), strings.ToLower(dir)) {
		t.Errorf("export message %q does not say where", overlayText(u))
	}
}

func TestSettingsStoredWithoutSecrets(t *testing.T) {
	u, fb := newTestUI(t, true)
	u.tabs.SelectIndex(2)
	el[*widget.Select](t, u, "min-age").SetSelected("18")
	el[*widget.Entry](t, u, "retention").SetText("365")
	test.Tap(el[*widget.Check](t, u, "beep"))
	el[*widget.Entry](t, u, "server").SetText("https://assent.example.org")
	test.Type(el[*widget.Entry](t, u, "code"), "SECRET-CODE-123")
	test.Tap(el[*widget.Button](t, u, "enrol"))
	test.Tap(el[*widget.Button](t, u, "save"))
	if s := fb.Applied(); s.MinimumAge != 18 || s.RetentionDays != 365 || !s.Beep || s.ServerURL != "https://assent.example.org" {
		t.Fatalf("backend got %+v", s)
	}
	p := u.app.Preferences()
	if p.Int(prefMinAge) != 18 || p.Int(prefRetention) != 365 || !p.Bool(prefBeep) {
		t.Fatal("settings not stored in preferences")
	}
	for _, k := range []string{prefInput, prefCallInput, prefServer, prefOrgNotice, prefLanguage, "code", "enrolmentCode"} {
		if strings.Contains(p.String(k), "SECRET-CODE-123") {
			t.Fatalf("enrolment code stored in preference %q", k)
		}
	}
	if !strings.Contains(el[*widget.Label](t, u, "sync-status").Text, "Connected to https://assent.example.org") {
		t.Errorf("status %q", el[*widget.Label](t, u, "sync-status").Text)
	}
	// The consent screen uses the new minimum age.
	u.tabs.SelectIndex(0)
	startCall(t, u, "Alice")
	if !strings.Contains(el[*widget.Check](t, u, "age").Text, "18") {
		t.Errorf("age check %q, want 18", el[*widget.Check](t, u, "age").Text)
	}
}

func TestUILanguageSwitchToDutch(t *testing.T) {
	u, _ := newTestUI(t, true)
	t.Cleanup(func() { setUILanguage("en") })
	u.tabs.SelectIndex(2)
	el[*widget.Select](t, u, "ui-language").SetSelected("Nederlands")
	test.Tap(el[*widget.Button](t, u, "save"))
	if u.tabs.Items[1].Text != "Bibliotheek" || u.tabs.Items[2].Text != "Instellingen" {
		t.Fatalf("tabs after switching to Dutch: %q %q", u.tabs.Items[1].Text, u.tabs.Items[2].Text)
	}
	if u.app.Preferences().String(prefLanguage) != "nl" {
		t.Error("language not stored")
	}
}

func TestAutomationFileListsElements(t *testing.T) {
	f := filepath.Join(t.TempDir(), "auto.json")
	t.Setenv("ASSENT_AUTOMATION", f)
	u, _ := newTestUI(t, true)
	startCall(t, u, "Alice")
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var st automationState
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	if st.Screen != "consent" {
		t.Fatalf("automation screen %q", st.Screen)
	}
	a, ok := st.Elements["agree"]
	if !ok || a.W <= 0 || a.H <= 0 || a.CX <= a.X || a.CY <= a.Y {
		t.Fatalf("agree element %+v", a)
	}
}

// The consent screen works with the keyboard alone: focus starts on the age
// confirmation, Space ticks it, Tab moves to "I agree", Space agrees.
func TestConsentKeyboardOperable(t *testing.T) {
	u, fb := newTestUI(t, true)
	startCall(t, u, "Alice")
	c := u.win.Canvas()
	if c.Focused() != el[*widget.Check](t, u, "age") {
		t.Fatalf("focus starts on %T, want the age confirmation", c.Focused())
	}
	c.Focused().TypedRune(' ')
	if !el[*widget.Check](t, u, "age").Checked {
		t.Fatal("Space did not tick the age confirmation")
	}
	c.FocusNext()
	if c.Focused() != el[*widget.Button](t, u, "agree") {
		t.Fatalf("Tab moved focus to %T, want I agree", c.Focused())
	}
	c.Focused().TypedKey(&fyne.KeyEvent{Name: fyne.KeySpace})
	if u.screen != "recording" {
		t.Fatalf("Space on I agree: screen %q", u.screen)
	}
	ticks(fb, 5)
	if u.call.State().Recorded != 5*BufferDuration {
		t.Fatal("not recording after keyboard consent")
	}
}

// Closing the window mid-call asks first, then stops (seals) the recording.
func TestNothingLost_ClosingTheWindowStopsAndSaves(t *testing.T) {
	u, fb := newTestUI(t, true)
	startCall(t, u, "Alice")
	agree(t, u)
	ticks(fb, 10)
	u.onClose()
	if !strings.Contains(overlayText(u), "stop recording and quit") {
		t.Fatalf("close during a call: dialog %q", overlayText(u))
	}
	tapOverlayButton(t, u, "Yes")
	recs, _ := fb.Recordings()
	if len(recs) != 1 || recs[0].Duration != 10*BufferDuration {
		t.Fatalf("after close: %+v", recs)
	}
}
