package sync_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-app/assent/consent"
	assentsync "github.com/assent-app/assent/sync"
	"github.com/assent-app/assent/sync/server"
)

// Every sync pass saves the organisation's signed policy; a new version on
// the server reaches the device on the next pass; a policy that the
// server's key (learnt at enrolment) did not sign is never saved.
func TestSyncSavesTheOrganisationsPolicy(t *testing.T) {
	ts := startServer(t, t.TempDir(), "")
	code, body := ts.admin("POST", "/v1/admin/enrolment-codes", nil)
	if code != 201 {
		t.Fatalf("code: %d %s", code, body)
	}
	var c struct{ Code string }
	json.Unmarshal(body, &c)
	key := newKey()
	e, err := assentsync.Enrol(t.Context(), nil, ts.url(), c.Code, "laptop", key.Public().(ed25519.PublicKey), "age1devicerecipient00000000000000000000000000000000000000")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := base64.StdEncoding.DecodeString(e.PolicyKey)
	if err != nil || len(pub) != ed25519.PublicKeySize || e.Policy == nil {
		t.Fatalf("enrolment gave policy key %q and policy %v", e.PolicyKey, e.Policy)
	}
	if _, err := e.Policy.Policy.Open(pub); err != nil {
		t.Fatalf("the policy at enrolment does not verify: %v", err)
	}
	path := filepath.Join(t.TempDir(), "config", "policy.json")
	mk := func(k ed25519.PublicKey) *assentsync.Client {
		cl, err := assentsync.New(assentsync.Config{Server: ts.url(), Token: e.Token, Library: newDirLibrary(t), OutboxDir: t.TempDir(),
			HTTPClient: &http.Client{Timeout: 30 * time.Second}, PolicyPath: path, PolicyKey: k})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	cl := mk(pub)
	version := func() int {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("policy.json: %v", err)
		}
		var sp consent.SignedPolicy
		if err := json.Unmarshal(b, &sp); err != nil {
			t.Fatal(err)
		}
		p, err := sp.Open(pub)
		if err != nil {
			t.Fatalf("saved policy does not verify: %v", err)
		}
		return p.Version
	}
	if err := cl.SyncOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != 1 {
		t.Fatalf("saved version %d, want 1", v)
	}
	if _, err := ts.srv.SetPolicy(t.Context(), server.PolicyRequest{Org: consent.OrgParams{Controller: "Acme", Contact: "privacy@acme.example", RetentionMonths: 24}}); err != nil {
		t.Fatal(err)
	}
	if err := cl.SyncOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != 2 {
		t.Fatalf("saved version %d after the server issued 2", v)
	}
	// A client that trusts another key refuses what the server sends.
	_, other, _ := ed25519.GenerateKey(nil)
	err = mk(other.Public().(ed25519.PublicKey)).SyncOnce(t.Context())
	if !errors.Is(err, assentsync.ErrPolicySignature) {
		t.Fatalf("a policy signed by another key: %v", err)
	}
	if v := version(); v != 2 {
		t.Fatal("the unverified policy replaced the saved one")
	}
}

// The client renews its token when it is older than RotateEvery, keeps the
// new one through OnTokenRotated, and the old one stops working.
func TestSyncRenewsTheDeviceToken(t *testing.T) {
	ts := startServer(t, t.TempDir(), "")
	tok, _ := ts.enrol(t)
	var kept []string
	outbox := t.TempDir()
	mk := func() *assentsync.Client {
		cl, err := assentsync.New(assentsync.Config{Server: ts.url(), Token: tok, Library: newDirLibrary(t), OutboxDir: outbox,
			HTTPClient: &http.Client{Timeout: 30 * time.Second}, OnTokenRotated: func(s string) error { kept = append(kept, s); return nil }})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	if err := mk().SyncOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || kept[0] == tok {
		t.Fatalf("first pass kept %v, want one new token", kept)
	}
	// Within RotateEvery nothing is renewed (the client below still has the old token in its config,
	// but it does not ask: the stamp is fresh).
	cl := mk()
	cl.SyncOnce(t.Context())
	if len(kept) != 1 {
		t.Fatalf("renewed again within RotateEvery: %v", kept)
	}
	req, _ := http.NewRequest("GET", ts.url()+"/v1/recordings", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("the old token still works after renewal: %d", resp.StatusCode)
	}
	req.Header.Set("Authorization", "Bearer "+kept[0])
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the renewed token: %d", resp.StatusCode)
	}
}

// The keyring cannot keep a renewed token (locked, full): the pass goes on
// with the current token, which still works, and the next pass renews
// again and keeps it; the device is never locked out.
func TestNothingLostOnCrash_RenewedTokenNotKept(t *testing.T) {
	ts := startServer(t, t.TempDir(), "")
	tok, _ := ts.enrol(t)
	lib := newDirLibrary(t)
	outbox := t.TempDir()
	failKeep := true
	var kept []string
	cl, err := assentsync.New(assentsync.Config{Server: ts.url(), Token: tok, Library: lib, OutboxDir: outbox,
		HTTPClient: &http.Client{Timeout: 30 * time.Second}, OnTokenRotated: func(s string) error {
			if failKeep {
				return errors.New("the keyring is locked")
			}
			kept = append(kept, s)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	err = cl.SyncOnce(t.Context())
	if err == nil || !strings.Contains(err.Error(), "goes on with the current token") {
		t.Fatalf("a renewal that could not be kept: %v", err)
	}
	status := func(token string) int {
		req, _ := http.NewRequest("GET", ts.url()+"/v1/recordings", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := status(tok); c != 200 {
		t.Fatalf("the current token after a renewal that was not kept: %d", c)
	}
	failKeep = false
	if err := cl.SyncOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || kept[0] == tok {
		t.Fatalf("kept %v", kept)
	}
	if c := status(kept[0]); c != 200 {
		t.Fatalf("the kept token: %d", c)
	}
	if c := status(tok); c != 401 {
		t.Fatalf("the old token once the kept one was used: %d", c)
	}
}
