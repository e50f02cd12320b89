package server

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An admin revokes a device: its token stops working at once, the
// revocation is audited, and its recordings stay for the organisation.
func TestDeviceRevocation(t *testing.T) {
	h := newHarness(t)
	a, b := h.enrol(1), h.enrol(2)
	h.fullRecording(a, "rec-rv", 1, "ann@example.com")
	resp, body := h.do("GET", "/v1/admin/devices", testAdmin, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), a.id) || !strings.Contains(string(body), b.id) {
		t.Fatalf("devices: %d %s", resp.StatusCode, body)
	}
	resp, body = h.do("POST", "/v1/admin/devices/"+a.id+"/revoke", testAdmin, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	resp, body = h.do("GET", "/v1/recordings", a.token, nil)
	wantProblem(t, resp, body, 401, "unauthenticated")
	if resp, body := h.do("GET", "/v1/recordings", b.token, nil); resp.StatusCode != 200 {
		t.Fatalf("the other device lost access: %d %s", resp.StatusCode, body)
	}
	resp, body = h.do("POST", "/v1/admin/devices/dev_nope/revoke", testAdmin, nil)
	wantProblem(t, resp, body, 404, "no-device")
	_, body = h.do("GET", "/v1/admin/devices", testAdmin, nil)
	var list struct{ Devices []AdminDevice }
	json.Unmarshal(body, &list)
	for _, d := range list.Devices {
		if (d.ID == a.id) != (d.Revoked != nil) {
			t.Fatalf("device list after revocation: %s", body)
		}
	}
	_, body = h.do("GET", "/v1/admin/audit", testAdmin, nil)
	if !strings.Contains(string(body), "device.revoke") {
		t.Fatalf("revocation not audited: %s", body)
	}
	if _, err := h.st.Recording(t.Context(), "rec-rv"); err != nil {
		t.Fatalf("the revoked device's recording is gone: %v", err)
	}
}

// Tokens expire after TokenTTL unless rotated; rotation invalidates the old one.
func TestDeviceTokenLifetimeAndRotation(t *testing.T) {
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessCfg(t, st, nil, func(c *Config) { c.TokenTTL = 30 * 24 * time.Hour })
	d := h.enrol(1)
	h.now = h.now.Add(20 * 24 * time.Hour)
	resp, body := h.do("POST", "/v1/device/token", d.token, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("rotate: %d %s", resp.StatusCode, body)
	}
	var tr TokenResponse
	json.Unmarshal(body, &tr)
	if tr.Token == "" || tr.Token == d.token || !tr.Expires.Equal(h.now.Add(30*24*time.Hour)) {
		t.Fatalf("rotation answer %s", body)
	}
	resp, body = h.do("GET", "/v1/recordings", d.token, nil)
	wantProblem(t, resp, body, 401, "unauthenticated")
	h.now = h.now.Add(25 * 24 * time.Hour) // 45 days after enrolment, 25 after rotation
	if resp, body := h.do("GET", "/v1/recordings", tr.Token, nil); resp.StatusCode != 200 {
		t.Fatalf("the rotated token: %d %s", resp.StatusCode, body)
	}
	h.now = h.now.Add(6 * 24 * time.Hour) // 31 days after rotation
	resp, body = h.do("GET", "/v1/recordings", tr.Token, nil)
	wantProblem(t, resp, body, 401, "token-expired")
}

// Wrong admin tokens and enrolment codes are audited, then rate-limited
// per address with 429; the right token still works for other addresses.
func TestFailedAdminAndEnrolmentAttemptsLimited(t *testing.T) {
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessCfg(t, st, nil, func(c *Config) { c.FailBurst = 5; c.FailEvery = time.Hour })
	for i := 0; i < 3; i++ {
		resp, body := h.do("GET", "/v1/admin/audit", "wrong-token-000000000000", nil)
		wantProblem(t, resp, body, 401, "unauthenticated")
		resp, body = h.do("POST", "/v1/enrol", "", map[string]string{"code": "guess", "name": "x",
			"signing_key": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "age_recipient": "age1devicerecipient000000000000000000000000000000000000"})
		if resp.StatusCode != 403 && resp.StatusCode != 429 {
			t.Fatalf("wrong code: %d %s", resp.StatusCode, body)
		}
	}
	resp, body := h.do("GET", "/v1/admin/audit", "wrong-token-000000000000", nil)
	wantProblem(t, resp, body, 429, "too-many-failures")
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Even the right token waits now from this address: guessing gains nothing.
	resp, body = h.do("GET", "/v1/admin/audit", testAdmin, nil)
	wantProblem(t, resp, body, 429, "too-many-failures")
	es, _ := h.st.Audit(t.Context(), 100)
	var admin, enrol int
	for _, e := range es {
		switch e.Action {
		case "admin.auth-failed":
			admin++
		case "enrolment.failed":
			enrol++
		}
	}
	if admin == 0 || enrol == 0 || admin+enrol > 5 {
		t.Fatalf("audit has %d failed admin and %d failed enrolment entries; want both, at most the 5 allowed", admin, enrol)
	}
}

func TestWeakAdminTokenRefused(t *testing.T) {
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tok := range []string{"short", "aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "abababababababababababab"} {
		_, err := New(Config{Store: st, Objects: LocalObjects{Dir: t.TempDir()}, UploadDir: t.TempDir(), AdminToken: tok, SubjectSalt: []byte("0123456789abcdef-salt"), PolicyKey: testPolicyKey})
		if err == nil || !strings.Contains(err.Error(), "too weak") {
			t.Fatalf("admin token %q: %v", tok, err)
		}
	}
}
