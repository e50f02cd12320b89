package desktop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/assent-app/assent/app"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/testenv"
	"github.com/assent-app/assent/vault"
)

// newBackend opens a backend over a fresh vault in a temp dir. The keyring
// is the real Secret Service when the environment has one, else go-keyring's
// in-memory mock; capture is real PortAudio from the PulseAudio null sink.
func newBackend(t *testing.T) *Backend {
	t.Helper()
	testenv.RequirePulse(t)
	if os.Getenv("ASSENT_TEST_KEYRING") != "1" {
		keyring.MockInit()
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte(`{"org":{"controller":"Acme BV","contact":"privacy@acme.example"},"chime":false}`), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, filepath.Join(dir, "vault"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.Checks() {
		if !c.OK {
			t.Fatalf("check %s failed: %s", c.Name, c.Problem)
		}
	}
	return b
}

func waitState(t *testing.T, c app.Call, what string, ok func(app.CallState) bool) app.CallState {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := c.State()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; state %+v", what, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func agree(lang string) app.Decision {
	return app.Decision{Agree: true, AgeConfirmed: true, Method: app.OnScreen, Lang: lang}
}

func TestNoConsentNoAudio_RealBackendRecordsOnlyAfterAll(t *testing.T) {
	b := newBackend(t)
	c, err := b.NewCall(app.CallSetup{Title: "Intro", Participants: []app.ParticipantInfo{
		{Name: "Ana", Email: "ana@acme.example", Lang: "en"}, {Name: "Bob", Lang: "nl"}}})
	if err != nil {
		t.Fatal(err)
	}
	st := c.State()
	if err := c.Start(); err == nil || !strings.Contains(err.Error(), "Ana") {
		t.Fatalf("Start before anyone agreed: %v", err)
	}
	if err := c.Decide(st.Participants[0].ID, agree("en")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := c.State(); got.Recorded != 0 || got.Phase != app.PhaseAsking {
		t.Fatalf("recorded %v in phase %v before Bob agreed", got.Recorded, got.Phase)
	}
	if err := c.Decide(st.Participants[1].ID, agree("nl")); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "a second of audio", func(s app.CallState) bool { return s.Recorded >= time.Second })
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	end := c.State()
	if end.Phase != app.PhaseEnded || end.RecordingID == "" {
		t.Fatalf("after stop: %+v", end)
	}
	recs, err := b.Recordings()
	if err != nil || len(recs) != 1 || recs[0].ID != end.RecordingID || recs[0].Title != "Intro" {
		t.Fatalf("library %+v, %v", recs, err)
	}
	receipt, err := b.Receipt(end.RecordingID)
	if err != nil || !strings.Contains(receipt, "✓ Consent record verified") {
		t.Fatalf("receipt: %v\n%s", err, receipt)
	}
	// The stored record verifies against the device key and covers the audio.
	data, err := b.v.Record(end.RecordingID)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := consent.Verify(data, b.v.SigningPublicKey())
	if err != nil || !proof.Final {
		t.Fatalf("record: %v final=%v", err, proof != nil && proof.Final)
	}
}

func TestNoConsentNoAudio_RealBackendDeclineKeepsNothing(t *testing.T) {
	b := newBackend(t)
	c, err := b.NewCall(app.CallSetup{Title: "Declined", Participants: []app.ParticipantInfo{{Name: "Ana", Lang: "en"}, {Name: "Carl", Lang: "en"}}})
	if err != nil {
		t.Fatal(err)
	}
	ids := c.State().Participants
	if err := c.Decide(ids[0].ID, agree("en")); err != nil {
		t.Fatal(err)
	}
	if err := c.Decide(ids[1].ID, app.Decision{Agree: false, Method: app.OnScreen, Lang: "en"}); err != nil {
		t.Fatal(err)
	}
	st := c.State()
	if st.Phase != app.PhaseEnded || st.Reason != app.RefusedBy || st.Who != "Carl" || st.RecordingID != "" {
		t.Fatalf("after a refusal: %+v", st)
	}
	if recs, _ := b.Recordings(); len(recs) != 0 {
		t.Fatalf("a refused call left %d recordings", len(recs))
	}
	ents, _ := os.ReadDir(filepath.Join(b.vaultDir, "recordings"))
	if len(ents) != 0 {
		t.Fatalf("a refused call left files: %v", ents)
	}
}

func TestNoConsentNoAudio_RealBackendLateJoinerAndWithdrawal(t *testing.T) {
	b := newBackend(t)
	c, err := b.NewCall(app.CallSetup{Title: "Late", Participants: []app.ParticipantInfo{{Name: "Ana", Lang: "en"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Decide(c.State().Participants[0].ID, agree("en")); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "recording", func(s app.CallState) bool { return s.Recorded > 200*time.Millisecond })
	cem, err := c.Join(app.ParticipantInfo{Name: "Cem", Lang: "de"})
	if err != nil {
		t.Fatal(err)
	}
	held := c.State()
	if held.Phase != app.PhaseHeld {
		t.Fatalf("after a late joiner: phase %v", held.Phase)
	}
	time.Sleep(300 * time.Millisecond)
	if c.State().Recorded != held.Recorded {
		t.Fatal("audio recorded while the late joiner had not agreed")
	}
	if err := c.Decide(cem, agree("de")); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "resumed", func(s app.CallState) bool { return s.Phase == app.PhaseRecording && s.Recorded > held.Recorded })
	if err := c.Withdraw(cem); err != nil {
		t.Fatal(err)
	}
	st := c.State()
	if st.Phase != app.PhaseEnded || st.Reason != app.WithdrawnBy || st.Who != "Cem" {
		t.Fatalf("after withdrawal: %+v", st)
	}
	rec := st.Recorded
	time.Sleep(200 * time.Millisecond)
	if c.State().Recorded != rec {
		t.Fatal("audio recorded after the withdrawal")
	}
}

func TestDeleteMeansDelete_RealBackend(t *testing.T) {
	b := newBackend(t)
	c, err := b.NewCall(app.CallSetup{Title: "Short", Participants: []app.ParticipantInfo{{Name: "Ana", Lang: "en"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Decide(c.State().Participants[0].ID, agree("en")); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "audio", func(s app.CallState) bool { return s.Recorded > 500*time.Millisecond })
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	id := c.State().RecordingID
	out := t.TempDir()
	if _, err := b.Export(id, out); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b.vaultDir, "recordings", id)); !os.IsNotExist(err) {
		t.Fatalf("recording directory still there: %v", err)
	}
	if recs, _ := b.Recordings(); len(recs) != 0 {
		t.Fatal("still listed after delete")
	}
	if _, err := b.Play(id); err == nil {
		t.Fatal("a deleted recording still plays")
	}
}

func TestBadInputGetsClearError_KeyringMissing(t *testing.T) {
	dir := t.TempDir()
	b, err := New(filepath.Join(dir, "c.json"), filepath.Join(dir, "v"), brokenKeyring{})
	if err != nil {
		t.Fatal(err)
	}
	checks := b.Checks()
	if checks[0].OK || !strings.Contains(checks[0].Problem, "No Secret Service session is running") || !strings.Contains(checks[0].Fix, "dbus-run-session") {
		t.Fatalf("keyring check: %+v", checks[0])
	}
	for _, c := range checks {
		for _, leak := range []string{"freedesktop", "dbus-launch", "vault:", "/org/"} {
			if strings.Contains(c.Problem+c.Fix, leak) {
				t.Errorf("check %s shows %q to the rep: %+v", c.Name, leak, c)
			}
		}
	}
	if _, err := b.NewCall(app.CallSetup{Participants: []app.ParticipantInfo{{Name: "Ana", Lang: "en"}}}); err == nil {
		t.Fatal("a call started without a keyring")
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "v"))
	for _, e := range ents {
		if e.Name() != "recordings" {
			t.Fatalf("something was written without keys: %s", e.Name())
		}
	}
}

type brokenKeyring struct{}

func (brokenKeyring) Get(string, string) (string, error) { return "", vault.ErrNoSessionBus }
func (brokenKeyring) Set(string, string, string) error   { return vault.ErrNoSessionBus }
func (brokenKeyring) Delete(string, string) error        { return vault.ErrNoSessionBus }

var _ vault.SecretStore = brokenKeyring{}

// The host (the first participant) is marked, so the consent screen offers
// verbal consent only for the others: the call rules refuse a host's own
// attestation (recording.ErrOwnAttestation), and the screen must not offer
// what the rules refuse.
func TestBadInputGetsClearError_HostIsMarkedAndCannotSelfAttest(t *testing.T) {
	b := newBackend(t)
	c, err := b.NewCall(app.CallSetup{Title: "Host", Participants: []app.ParticipantInfo{{Name: "Ana", Lang: "en"}, {Name: "Carl", Lang: "en"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	ps := c.State().Participants
	if len(ps) != 2 || !ps[0].Host || ps[1].Host {
		t.Fatalf("host marks: %+v", ps)
	}
	err = c.Decide(ps[0].ID, app.Decision{Agree: true, AgeConfirmed: true, Method: app.VerbalAttested, Lang: "en"})
	if err == nil {
		t.Fatal("the host attested their own verbal consent")
	}
	if err := c.Decide(ps[0].ID, agree("en")); err != nil {
		t.Fatal(err)
	}
	if err := c.Decide(ps[1].ID, app.Decision{Agree: true, AgeConfirmed: true, Method: app.VerbalAttested, Lang: "en"}); err != nil {
		t.Fatalf("the host could not attest Carl's verbal consent: %v", err)
	}
}
