package server

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
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

// Tokens expire after TokenTTL unless rotated; the new token's first use
// ends the old one.
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
	if resp, body := h.do("GET", "/v1/recordings", tr.Token, nil); resp.StatusCode != 200 {
		t.Fatalf("the rotated token: %d %s", resp.StatusCode, body)
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

// Per-device quotas: uploads in progress and bytes per day, each 429 with
// what to do; another device is not affected.
func TestPerDeviceUploadQuotas(t *testing.T) {
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	data := segData("rec-q", 1)
	h := newHarnessCfg(t, st, nil, func(c *Config) { c.MaxUploadsPerDevice = 3; c.MaxBytesPerDevicePerDay = int64(len(data)) * 5 })
	a, b := h.enrol(1), h.enrol(2)
	h.fullRecordingRegisterOnly(a, "rec-q")
	h.fullRecordingRegisterOnly(b, "rec-qb")
	create := func(d dev, rec string, idx int) (*http.Response, []byte) {
		return h.tusReq("POST", h.ts.URL+"/v1/uploads/", d.token, map[string]string{"Tus-Resumable": "1.0.0",
			"Upload-Length": strconv.Itoa(len(data)), "Upload-Metadata": meta(map[string]string{"recording": rec, "index": strconv.Itoa(idx), "sha256": sum(data)})}, nil)
	}
	for i := 1; i <= 3; i++ {
		if resp, body := create(a, "rec-q", i); resp.StatusCode != 201 {
			t.Fatalf("upload %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := create(a, "rec-q", 4)
	wantProblem(t, resp, body, 429, "quota-uploads")
	if resp, body := create(b, "rec-qb", 1); resp.StatusCode != 201 {
		t.Fatalf("another device is held by the first one's quota: %d %s", resp.StatusCode, body)
	}
	// Ended uploads free their slots; the bytes started today still count.
	ups, _ := h.srv.uploadsOf("rec-q")
	for _, u := range ups {
		h.srv.terminateUpload(t.Context(), u.ID)
	}
	if resp, body := create(a, "rec-q", 5); resp.StatusCode != 201 {
		t.Fatalf("after the uploads ended: %d %s", resp.StatusCode, body)
	}
	if resp, body := create(a, "rec-q", 6); resp.StatusCode != 201 { // the 5th segment's bytes today: the limit
		t.Fatalf("within the daily bytes: %d %s", resp.StatusCode, body)
	}
	resp, body = create(a, "rec-q", 7)
	wantProblem(t, resp, body, 429, "quota-bytes")
	h.now = h.now.Add(24 * time.Hour)
	ups, _ = h.srv.uploadsOf("rec-q")
	for _, u := range ups {
		h.srv.terminateUpload(t.Context(), u.ID)
	}
	if resp, body := create(a, "rec-q", 8); resp.StatusCode != 201 {
		t.Fatalf("the next day: %d %s", resp.StatusCode, body)
	}
}

// Behind the proxy that -forwarded-headers trusts every request comes from
// the proxy's address: failures are counted per client the proxy saw, so
// one client guessing tokens does not lock the admin out.
func TestFailedAttemptsCountedPerClientBehindAProxy(t *testing.T) {
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessCfg(t, st, nil, func(c *Config) { c.FailBurst = 3; c.FailEvery = time.Hour; c.ForwardedHeaders = true })
	get := func(token, client string) int {
		req, _ := http.NewRequest("GET", h.ts.URL+"/v1/admin/audit", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Forwarded-For", "198.51.100.7, "+client) // the proxy appends the address it saw
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := 0; i < 4; i++ {
		get("wrong-token-000000000000", "203.0.113.5")
	}
	if code := get(testAdmin, "203.0.113.5"); code != 429 {
		t.Fatalf("the guessing client: %d, want 429", code)
	}
	if code := get(testAdmin, "203.0.113.9"); code != 200 {
		t.Fatalf("another client behind the same proxy: %d, want 200", code)
	}
}

// A device whose renewal answer was lost (the connection dropped, or the
// app died before the keyring kept the new token) is not locked out: its
// old token keeps working until a new token is used, asking again replaces
// the lost one, and the first use of the kept one ends the old token.
func TestNothingLostOnCrash_TokenRenewalAnswerLost(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	resp, body := h.do("POST", "/v1/device/token", d.token, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("rotate: %d %s", resp.StatusCode, body)
	}
	var lost TokenResponse
	json.Unmarshal(body, &lost)
	// The answer never reached the keyring: the device goes on with its token.
	if resp, body := h.do("GET", "/v1/recordings", d.token, nil); resp.StatusCode != 200 {
		t.Fatalf("the old token after a renewal whose answer was lost: %d %s", resp.StatusCode, body)
	}
	resp, body = h.do("POST", "/v1/device/token", d.token, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("asking again: %d %s", resp.StatusCode, body)
	}
	var kept TokenResponse
	json.Unmarshal(body, &kept)
	if kept.Token == lost.Token || kept.Token == d.token {
		t.Fatalf("the second renewal gave %q", kept.Token)
	}
	resp, body = h.do("GET", "/v1/recordings", lost.Token, nil)
	wantProblem(t, resp, body, 401, "unauthenticated") // replaced before it was ever used
	if resp, body := h.do("GET", "/v1/policy", kept.Token, nil); resp.StatusCode/100 != 2 && resp.StatusCode != 404 {
		t.Fatalf("the kept token: %d %s", resp.StatusCode, body)
	}
	resp, body = h.do("GET", "/v1/recordings", d.token, nil)
	wantProblem(t, resp, body, 401, "unauthenticated")
	if resp, body := h.do("GET", "/v1/recordings", kept.Token, nil); resp.StatusCode != 200 {
		t.Fatalf("the kept token: %d %s", resp.StatusCode, body)
	}
	// A revoked device's unused renewal dies with it.
	resp, body = h.do("POST", "/v1/device/token", kept.Token, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("rotate: %d %s", resp.StatusCode, body)
	}
	var staged TokenResponse
	json.Unmarshal(body, &staged)
	if resp, body := h.do("POST", "/v1/admin/devices/"+d.id+"/revoke", testAdmin, nil); resp.StatusCode/100 != 2 {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	resp, body = h.do("GET", "/v1/recordings", staged.Token, nil)
	if resp.StatusCode != 401 && resp.StatusCode != 403 {
		t.Fatalf("a revoked device's staged token: %d %s", resp.StatusCode, body)
	}
}
