package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

func FuzzParseUploadMeta(f *testing.F) {
	f.Add("rec-1", "3", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	f.Add("../x", "-1", "zz")
	f.Add("", "99999999999999999999", "")
	f.Fuzz(func(t *testing.T, rec, idx, sha string) {
		m, err := ParseUploadMeta(map[string]string{"recording": rec, "index": idx, "sha256": sha})
		if err != nil {
			if len(err.Error()) < 20 {
				t.Fatalf("unclear error %q", err)
			}
			return
		}
		if !recordingIDRe.MatchString(m.Recording) || m.Index < 0 || !sha256Re.MatchString(m.SHA256) {
			t.Fatalf("accepted bad metadata %+v", m)
		}
		if k := segKey(m.Recording, m.Index); (LocalObjects{Dir: "/x"}).checkKey(k) != nil {
			t.Fatalf("accepted metadata yields unsafe object key %q", k)
		}
	})
}

func (l LocalObjects) checkKey(k string) error { _, err := l.path(k); return err }

func FuzzParseEnrolRequest(f *testing.F) {
	f.Add([]byte(`{"code":"abc","name":"x","signing_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","age_recipient":"age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"}`))
	f.Add([]byte(`{"code":""}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, key, err := ParseEnrolRequest(body)
		if err != nil {
			return
		}
		if len(key) != 32 || req.Code == "" || len(req.AgeRecipient) < 20 {
			t.Fatalf("accepted bad enrolment %+v", req)
		}
	})
}

func FuzzParseSubjectRequest(f *testing.F) {
	f.Add([]byte(`{"email":"ann@example.com"}`))
	f.Add([]byte(`{"email":"Ann <ann@example.com>"}`))
	f.Add([]byte(`{"email":""}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseSubjectRequest(body)
		if err != nil {
			return
		}
		if req.Email != NormaliseEmail(req.Email) || req.Email == "" {
			t.Fatalf("accepted un-normalised address %q", req.Email)
		}
	})
}

// FuzzDeviceAPI throws arbitrary bodies at the JSON endpoints: the answer is
// always a success or a problem+json 4xx, never a crash or a 5xx.
func FuzzDeviceAPI(f *testing.F) {
	f.Add(0, []byte(`{"id":"r1","record":{}}`))
	f.Add(1, []byte(`{"record":{},"segments":[{"index":1,"size":1,"sha256":"aa"}]}`))
	f.Add(2, []byte(`{"upload":"0123abc"}`))
	f.Add(3, []byte(`{"email":"a@b.c"}`))
	dir := f.TempDir()
	st, err := OpenSQLite(filepath.Join(dir, "i.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	srv, err := New(Config{Store: st, Objects: LocalObjects{Dir: filepath.Join(dir, "o")}, UploadDir: filepath.Join(dir, "u"), AdminToken: testAdmin, SubjectSalt: []byte("0123456789abcdef"), PolicyKey: testPolicyKey})
	if err != nil {
		f.Fatal(err)
	}
	st.AddDevice(f.Context(), Device{ID: "d1", SigningKey: make([]byte, 32), AgeRecipient: "age1x", TokenHash: hashToken("devtoken")})
	h := srv.Handler()
	routes := []struct{ method, path, token string }{
		{"POST", "/v1/recordings", "devtoken"},
		{"PUT", "/v1/recordings/r1/final", "devtoken"},
		{"POST", "/v1/recordings/r1/segments/1/commit", "devtoken"},
		{"POST", "/v1/admin/subjects/recordings", testAdmin},
		{"POST", "/v1/enrol", ""},
	}
	f.Fuzz(func(t *testing.T, route int, body []byte) {
		if route < 0 {
			route = -route
		}
		rt := routes[route%len(routes)]
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+rt.token)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s answered %d: %s", rt.method, rt.path, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var p problemDoc
			if w.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Detail == "" {
				t.Fatalf("%s %s answered %d without a problem document: %s", rt.method, rt.path, w.Code, w.Body)
			}
		}
		_ = http.StatusOK
	})
}
