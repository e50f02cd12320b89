package server

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/consent"
)

// recordUnder is a real record made by a device using the notices of org,
// with the call starting at start.
func recordUnder(t *testing.T, key ed25519.PrivateKey, recID string, org consent.OrgParams, start time.Time) []byte {
	t.Helper()
	set, err := consent.NewLibrary(assets.Notices()).RenderSet(consent.DefaultNoticeID, "1", org)
	if err != nil {
		t.Fatal(err)
	}
	clk := start
	s, err := consent.NewSession(consent.Config{RecordingID: recID, Notices: set, Signer: key, Now: func() time.Time { clk = clk.Add(time.Millisecond); return clk }})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []consent.Event{
		{Type: consent.ParticipantAdded, Participant: "p0", Principal: &consent.Principal{Name: "Ann", Email: "ann@example.com", Lang: "en"}},
		{Type: consent.ConsentRequested, Participant: "p0"},
		{Type: consent.ConsentGiven, Participant: "p0", Method: consent.OnScreen},
		{Type: consent.AgeConfirmed, Participant: "p0", Method: consent.OnScreen},
		{Type: consent.RecordingRequested},
	} {
		if _, err := s.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	s.Admit(4800)
	b, err := s.Record()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The organisation's policy decides which notices, retention and minimum
// age a stored recording may have.
func TestEveryStoredSecondProvable_OrganisationPolicyDecides(t *testing.T) {
	acme := consent.OrgParams{Controller: "Acme", Contact: "privacy@acme.example"}

	// No policy yet: registration is refused with what to do.
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	bare := newHarnessCfg(t, st, nil, nil)
	if _, err := st.(*sqlStore).db.Exec(`DELETE FROM policies`); err != nil {
		t.Fatal(err)
	}
	bare.srv.policyCache = map[int]policyVersion{}
	d0 := bare.enrol(1)
	resp, body := bare.register(d0, "rec-np", recordUnder(t, d0.key, "rec-np", acme, bare.now))
	wantProblem(t, resp, body, 409, "policy-not-set")
	if !strings.Contains(string(body), "assentd policy set") {
		t.Fatalf("the refusal does not say how to set the policy: %s", body)
	}

	h := newHarness(t) // policy v1: Acme, 36 months, minimum age 16
	d := h.enrol(1)
	v1At := h.now
	// An invented notice (another organisation's text) is refused.
	resp, body = h.register(d, "rec-inv", recordUnder(t, d.key, "rec-inv", consent.OrgParams{Controller: "Someone Else", Contact: "x@example.com"}, h.now))
	wantProblem(t, resp, body, 422, "policy-mismatch")
	// A record whose notice says 240 months (a text the server never issued).
	long := acme
	long.RetentionMonths = 240
	resp, body = h.register(d, "rec-240", recordUnder(t, d.key, "rec-240", long, h.now))
	wantProblem(t, resp, body, 422, "policy-mismatch")

	// Version 2 shortens retention to 24 months.
	h.now = h.now.Add(time.Hour)
	short := acme
	short.RetentionMonths = 24
	resp, body = h.do("PUT", "/v1/admin/policy", testAdmin, map[string]any{"noticeId": consent.DefaultNoticeID, "noticeVersion": "1", "org": short})
	if resp.StatusCode != 201 {
		t.Fatalf("set policy v2: %d %s", resp.StatusCode, body)
	}
	// A call that started under v1 with v1's notice is accepted …
	if resp, body := h.register(d, "rec-v1", recordUnder(t, d.key, "rec-v1", acme, v1At.Add(time.Minute))); resp.StatusCode != 201 {
		t.Fatalf("a call under v1: %d %s", resp.StatusCode, body)
	}
	// … one that started after v2 but still uses v1's notice and 36 months is refused …
	resp, body = h.register(d, "rec-stale", recordUnder(t, d.key, "rec-stale", acme, h.now.Add(time.Minute)))
	wantProblem(t, resp, body, 422, "policy-mismatch")
	// … and one under v2 is accepted.
	if resp, body := h.register(d, "rec-v2", recordUnder(t, d.key, "rec-v2", short, h.now.Add(time.Minute))); resp.StatusCode != 201 {
		t.Fatalf("a call under v2: %d %s", resp.StatusCode, body)
	}
	// Retention of the stored recording is the policy's, not the device's choice.
	rec, _ := h.st.Recording(t.Context(), "rec-v2")
	if got := rec.RetainUntil.Sub(rec.CreatedAt); got > 25*31*24*time.Hour || got < 23*30*24*time.Hour {
		t.Fatalf("retained for %v, want about 24 months", got)
	}

	// Devices get the newest version, signed with the key from enrolment.
	resp, body = h.do("GET", "/v1/policy", d.token, nil)
	var pa PolicyAnswer
	if resp.StatusCode != 200 || json.Unmarshal(body, &pa) != nil {
		t.Fatalf("GET /v1/policy: %d %s", resp.StatusCode, body)
	}
	pub, _ := base64.StdEncoding.DecodeString(pa.PublicKey)
	p, err := pa.Policy.Open(pub)
	if err != nil || p.Version != 2 || p.Org.RetentionMonths != 24 {
		t.Fatalf("policy %+v, %v", p, err)
	}
	// A placeholder controller is refused.
	resp, body = h.do("PUT", "/v1/admin/policy", testAdmin, map[string]any{"org": map[string]any{"Controller": "", "Contact": "x@example.com"}})
	wantProblem(t, resp, body, 400, "bad-policy")
	_, body = h.do("GET", "/v1/admin/audit", testAdmin, nil)
	if strings.Count(string(body), "policy.set") < 2 {
		t.Fatalf("policy changes not audited: %s", body)
	}
}
