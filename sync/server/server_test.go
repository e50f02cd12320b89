package server

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-app/assent/consent"
)

func TestEndToEndRegisterUploadFinalise(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	h.fullRecording(d, "rec-1", 3, "ann@example.com")
	resp, body := h.do("GET", "/v1/recordings/rec-1", d.token, nil)
	var st RecordingStatus
	json.Unmarshal(body, &st)
	if resp.StatusCode != 200 || !st.Finalised || len(st.Segments) != 3 {
		t.Fatalf("status %d %+v", resp.StatusCode, st)
	}
	for i, sg := range st.Segments {
		resp, data := h.do("GET", "/v1/recordings/rec-1/segments/"+itoa(sg.Index), d.token, nil)
		if resp.StatusCode != 200 || sum(data) != sg.SHA256 || !bytes.Equal(data, segData("rec-1", i+1)) {
			t.Fatalf("segment %d download: %d, sha %s", sg.Index, resp.StatusCode, sum(data))
		}
	}
	resp, body = h.do("GET", "/metrics", "", nil)
	if !strings.Contains(string(body), "assentd_segments_stored_total 3") || !strings.Contains(string(body), `route="POST /v1/recordings"`) {
		t.Fatalf("metrics do not count the uploads:\n%s", body)
	}
	if strings.Contains(string(body), "rec-1") {
		t.Fatal("metrics carry a recording id")
	}
	resp, body = h.do("GET", "/healthz", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("healthz %d %s", resp.StatusCode, body)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestEveryStoredSecondProvable_ServerRefusesBadRecords(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	other := h.enrol(2)
	good := makeRecord(t, d.key, "rec-a", false, "ann@example.com")

	forged := bytes.Replace(good, []byte("ann@example.com"), []byte("bob@example.com"), 1)
	truncated := good[:len(good)/2]
	var rec map[string]any
	json.Unmarshal(good, &rec)
	evs := rec["events"].([]any)
	rec["events"] = evs[:len(evs)-2] // drop events: chain head no longer matches the signature
	dropped, _ := json.Marshal(rec)
	replayed := makeRecord(t, d.key, "rec-b", false, "ann@example.com")
	crossDevice := makeRecord(t, other.key, "rec-a", false, "ann@example.com")

	for _, c := range []struct {
		name, slug string
		record     []byte
	}{
		{"forged", "record-invalid", forged},
		{"truncated", "record-invalid", truncated},
		{"events-dropped", "record-invalid", dropped},
		{"replayed-from-another-recording", "record-mismatch", replayed},
		{"signed-by-another-device", "record-invalid", crossDevice},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := h.do("POST", "/v1/recordings", d.token, map[string]any{"id": "rec-a", "record": json.RawMessage(c.record)})
			if c.name == "truncated" {
				// A truncated record is not even JSON inside the body.
				resp, body = h.do("POST", "/v1/recordings", d.token, `{"id":"rec-a","record":`+string(c.record)+`}`)
				wantProblem(t, resp, body, 400, "bad-json")
				resp, body = h.do("POST", "/v1/recordings", d.token, map[string]any{"id": "rec-a", "record": string(c.record)})
			}
			wantProblem(t, resp, body, 422, c.slug)
			if _, err := h.st.Recording(t.Context(), "rec-a"); err == nil {
				t.Fatal("a refused record left a recording behind")
			}
		})
	}

	// Finalisation needs a final record that verifies, too.
	h.fullRecordingRegisterOnly(d, "rec-c")
	data := segData("rec-c", 1)
	h.upload(d, "rec-c", 1, data, sum(data))
	segs := []SegmentInfo{{Index: 1, Size: int64(len(data)), SHA256: sum(data)}}
	resp, body := h.do("PUT", "/v1/recordings/rec-c/final", d.token, map[string]any{"record": json.RawMessage(makeRecord(t, d.key, "rec-c", false, "ann@example.com")), "segments": segs})
	wantProblem(t, resp, body, 422, "record-not-final")
	resp, body = h.do("PUT", "/v1/recordings/rec-c/final", d.token, map[string]any{"record": json.RawMessage(makeRecord(t, other.key, "rec-c", true, "ann@example.com")), "segments": segs})
	wantProblem(t, resp, body, 422, "record-invalid")
	resp, body = h.do("PUT", "/v1/recordings/rec-c/final", d.token, map[string]any{"record": json.RawMessage(makeRecord(t, d.key, "rec-c", true, "ann@example.com")), "segments": append(segs, SegmentInfo{Index: 2, Size: 5, SHA256: strings.Repeat("a", 64)})})
	wantProblem(t, resp, body, 409, "segments-missing")
	resp, body = h.do("PUT", "/v1/recordings/rec-c/final", d.token, map[string]any{"record": json.RawMessage(makeRecord(t, d.key, "rec-c", true, "ann@example.com")), "segments": []SegmentInfo{{Index: 1, Size: int64(len(data)), SHA256: strings.Repeat("b", 64)}}})
	wantProblem(t, resp, body, 409, "segment-mismatch")
	if r, _ := h.st.Recording(t.Context(), "rec-c"); r.Finalised() {
		t.Fatal("a refused finalisation finalised the recording")
	}
}

func (h *harness) fullRecordingRegisterOnly(d dev, rec string) {
	h.t.Helper()
	resp, body := h.do("POST", "/v1/recordings", d.token, map[string]any{"id": rec, "record": json.RawMessage(makeRecord(h.t, d.key, rec, false, "ann@example.com"))})
	if resp.StatusCode != 201 {
		h.t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
}

func TestBadInputGetsClearError_Uploads(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	other := h.enrol(2)
	h.fullRecordingRegisterOnly(d, "rec-1")
	data := segData("rec-1", 1)

	resp, body := h.upload(d, "rec-1", 1, data, sum([]byte("something else")))
	wantProblem(t, resp, body, 422, "checksum-mismatch")
	if segs, _ := h.st.Segments(t.Context(), "rec-1"); len(segs) != 0 {
		t.Fatal("a segment with a wrong checksum was stored")
	}
	resp, body = h.upload(d, "rec-1", 1, data, "not-a-hash")
	wantProblem(t, resp, body, 400, "bad-upload-metadata")
	resp, body = h.upload(d, "no-such-rec", 1, data, sum(data))
	wantProblem(t, resp, body, 404, "no-recording")
	resp, body = h.upload(other, "rec-1", 1, data, sum(data))
	wantProblem(t, resp, body, 404, "no-recording")

	if resp, body := h.upload(d, "rec-1", 1, data, sum(data)); resp.StatusCode != 204 {
		t.Fatalf("good upload: %d %s", resp.StatusCode, body)
	}
	changed := append([]byte("x"), data...)
	resp, body = h.upload(d, "rec-1", 1, changed, sum(changed))
	wantProblem(t, resp, body, 409, "segment-exists")
}

func TestBadInputGetsClearError_API(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	cases := []struct {
		method, path, token string
		body                any
		status              int
		slug                string
	}{
		{"POST", "/v1/recordings", "", `{}`, 401, "unauthenticated"},
		{"POST", "/v1/recordings", "wrong-token", `{}`, 401, "unauthenticated"},
		{"POST", "/v1/recordings", d.token, `{"id":`, 400, "bad-json"},
		{"POST", "/v1/recordings", d.token, `{"id":"a","record":{},"extra":1}`, 400, "bad-json"},
		{"POST", "/v1/recordings", d.token, `{"id":"../etc","record":{}}`, 400, "bad-id"},
		{"POST", "/v1/recordings", d.token, `{"id":"ok"}`, 400, "record-missing"},
		{"POST", "/v1/recordings", d.token, `{"id":"ok","record":{"format":"x"}}`, 422, "record-invalid"},
		{"PUT", "/v1/recordings/ok/final", d.token, `{"record":{},"segments":[]}`, 400, "bad-segments"},
		{"PUT", "/v1/recordings/ok/final", d.token, `{"record":{},"segments":[{"index":1,"size":3,"sha256":"` + strings.Repeat("a", 64) + `"}]}`, 404, "no-recording"},
		{"GET", "/v1/recordings/ok/segments/-1", d.token, nil, 400, "bad-index"},
		{"GET", "/v1/nothing", "", nil, 404, "not-found"},
		{"POST", "/v1/enrol", "", `{"code":"nope","signing_key":"AAAA","age_recipient":"age1x"}`, 400, "bad-enrolment"},
		{"POST", "/v1/enrol", "", `{"code":"nope","signing_key":"` + strings.Repeat("A", 43) + `=","age_recipient":"age1` + strings.Repeat("q", 58) + `"}`, 403, "bad-code"},
		{"POST", "/v1/admin/subjects/recordings", d.token, `{"email":"a@b.c"}`, 401, "unauthenticated"},
		{"POST", "/v1/admin/subjects/recordings", testAdmin, `{"email":"not an address"}`, 400, "bad-subject"},
	}
	for _, c := range cases {
		resp, body := h.do(c.method, c.path, c.token, c.body)
		t.Run(c.method+" "+c.path+" "+c.slug, func(t *testing.T) { wantProblem(t, resp, body, c.status, c.slug) })
	}
}

func TestEnrolmentCodeIsOneTime(t *testing.T) {
	h := newHarness(t)
	_, body := h.do("POST", "/v1/admin/enrolment-codes", testAdmin, nil)
	var code struct{ Code string }
	json.Unmarshal(body, &code)
	req := map[string]string{"code": code.Code, "signing_key": strings.Repeat("A", 43) + "=", "age_recipient": "age1" + strings.Repeat("q", 58)}
	if resp, body := h.do("POST", "/v1/enrol", "", req); resp.StatusCode != 201 {
		t.Fatalf("first use: %d %s", resp.StatusCode, body)
	}
	resp, body := h.do("POST", "/v1/enrol", "", req)
	wantProblem(t, resp, body, 403, "bad-code")
	// Tokens are stored only as hashes.
	rows, _ := h.st.(*sqlStore).db.Query(`SELECT token_hash FROM devices`)
	defer rows.Close()
	for rows.Next() {
		var th string
		rows.Scan(&th)
		if len(th) != 64 {
			t.Fatalf("token stored as %q, want a SHA-256", th)
		}
	}
}

func TestDeviceSeesAndDeletesOnlyItsOwn(t *testing.T) {
	h := newHarness(t)
	a, b := h.enrol(1), h.enrol(2)
	h.fullRecording(a, "rec-a", 1, "ann@example.com")
	h.fullRecording(b, "rec-b", 1, "bob@example.com")
	_, body := h.do("GET", "/v1/recordings", a.token, nil)
	if !strings.Contains(string(body), "rec-a") || strings.Contains(string(body), "rec-b") {
		t.Fatalf("device a lists %s", body)
	}
	resp, body := h.do("GET", "/v1/recordings/rec-b/segments/1", a.token, nil)
	wantProblem(t, resp, body, 404, "no-recording")
	// Another device's id, an unknown id and a malformed one answer alike.
	for _, id := range []string{"rec-b", "rec-never-registered", "a..b"} {
		resp, body = h.do("DELETE", "/v1/recordings/"+id, a.token, nil)
		if resp.StatusCode != 204 || len(body) != 0 {
			t.Fatalf("DELETE %s by another device: %d %s, want 204 like an unknown id", id, resp.StatusCode, body)
		}
	}
	if _, err := h.st.Recording(t.Context(), "rec-b"); err != nil {
		t.Fatal("device a deleted device b's recording")
	}
	resp, body = h.do("POST", "/v1/recordings", a.token, map[string]any{"id": "rec-b", "record": json.RawMessage(makeRecord(t, a.key, "rec-b", false, "x@example.com"))})
	wantProblem(t, resp, body, 409, "id-taken")
}

func TestDeleteMeansDelete_DeviceDeleteRemovesObjectsAndIndex(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	h.fullRecording(d, "rec-1", 2, "ann@example.com")
	for i := 0; i < 2; i++ { // idempotent: the retried delete is confirmed too
		if resp, body := h.do("DELETE", "/v1/recordings/rec-1", d.token, nil); resp.StatusCode != 204 {
			t.Fatalf("delete %d: %d %s", i, resp.StatusCode, body)
		}
	}
	assertGone(t, h, "rec-1")
}

func assertGone(t *testing.T, h *harness, rec string) {
	t.Helper()
	if _, err := h.st.Recording(t.Context(), rec); err == nil {
		t.Fatalf("%s still indexed", rec)
	}
	if segs, _ := h.st.Segments(t.Context(), rec); len(segs) != 0 {
		t.Fatalf("%s still has segment rows", rec)
	}
	if rc, err := h.srv.cfg.Objects.Get(t.Context(), recordKey(rec)); err == nil {
		rc.Close()
		t.Fatalf("%s record object still stored", rec)
	}
	if rc, err := h.srv.cfg.Objects.Get(t.Context(), segKey(rec, 1)); err == nil {
		rc.Close()
		t.Fatalf("%s segment object still stored", rec)
	}
}

func TestSubjectRequests(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	h.fullRecording(d, "rec-1", 2, "Ann@Example.com", "bob@example.com")
	h.fullRecording(d, "rec-2", 1, "ann@example.com")
	h.fullRecording(d, "rec-3", 1, "carl@example.com")
	ann := map[string]string{"email": " ann@example.COM "}

	resp, body := h.do("POST", "/v1/admin/subjects/recordings", testAdmin, ann)
	var list struct{ Recordings []AdminRecording }
	json.Unmarshal(body, &list)
	if resp.StatusCode != 200 || len(list.Recordings) != 2 || list.Recordings[0].ID != "rec-1" || list.Recordings[1].ID != "rec-2" {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}

	// Export: a zip with the records, every segment and a README.
	resp, body = h.do("POST", "/v1/admin/subjects/export", testAdmin, ann)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("export: %d", resp.StatusCode)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	for _, want := range []string{"manifest.json", "README.txt", "recordings/rec-1/record.json", "recordings/rec-1/seg-000001.age", "recordings/rec-1/seg-000002.age", "recordings/rec-2/record.json", "recordings/rec-2/seg-000001.age"} {
		if _, ok := files[want]; !ok {
			t.Errorf("export lacks %s", want)
		}
	}
	if _, ok := files["recordings/rec-3/record.json"]; ok {
		t.Error("export holds another person's recording")
	}
	if !bytes.Equal(files["recordings/rec-1/seg-000002.age"], segData("rec-1", 2)) || !strings.Contains(string(files["README.txt"]), "age -d") {
		t.Error("export segment or README wrong")
	}

	// Restrict: no download until lifted.
	h.do("POST", "/v1/admin/subjects/restrict", testAdmin, ann)
	resp, body = h.do("GET", "/v1/recordings/rec-2/segments/1", d.token, nil)
	wantProblem(t, resp, body, 403, "restricted")
	if resp, _ := h.do("GET", "/v1/recordings/rec-3/segments/1", d.token, nil); resp.StatusCode != 200 {
		t.Fatal("restriction reached another person's recording")
	}
	h.do("POST", "/v1/admin/subjects/lift-restriction", testAdmin, ann)
	if resp, _ := h.do("GET", "/v1/recordings/rec-2/segments/1", d.token, nil); resp.StatusCode != 200 {
		t.Fatal("lifted restriction still blocks")
	}

	// Erase.
	resp, body = h.do("POST", "/v1/admin/subjects/erase", testAdmin, ann)
	if resp.StatusCode != 200 {
		t.Fatalf("erase: %d %s", resp.StatusCode, body)
	}
	assertGone(t, h, "rec-1")
	assertGone(t, h, "rec-2")
	if _, err := h.st.Recording(t.Context(), "rec-3"); err != nil {
		t.Fatal("erase removed another person's recording")
	}
	// An erased recording is never accepted again (a device still holding it
	// would otherwise upload it anew).
	resp, body = h.do("POST", "/v1/recordings", d.token, map[string]any{"id": "rec-2", "record": json.RawMessage(makeRecord(t, d.key, "rec-2", false, "ann@example.com"))})
	wantProblem(t, resp, body, 410, "deleted")

	// The audit log holds every action and no address.
	_, body = h.do("GET", "/v1/admin/audit", testAdmin, nil)
	for _, a := range []string{"subject.list", "subject.export", "subject.restrict", "subject.lift-restriction", "subject.erase", "device.enrol"} {
		if !strings.Contains(string(body), `"`+a+`"`) {
			t.Errorf("audit lacks %s", a)
		}
	}
	if strings.Contains(strings.ToLower(string(body)), "example.com") {
		t.Fatalf("audit log holds personal data: %s", body)
	}
}

func TestDeleteMeansDelete_SubjectEraseAndRetentionPurge(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	h.fullRecording(d, "old", 1, "ann@example.com")
	h.now = h.now.AddDate(2, 0, 0)
	h.fullRecording(d, "new", 1, "ann@example.com")
	h.now = h.now.AddDate(1, 1, 0) // "old" is now 37 months old, "new" 13
	resp, body := h.do("POST", "/v1/admin/retention/purge", testAdmin, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"old"`) || strings.Contains(string(body), `"new"`) {
		t.Fatalf("purge: %d %s", resp.StatusCode, body)
	}
	assertGone(t, h, "old")
	if _, err := h.st.Recording(t.Context(), "new"); err != nil {
		t.Fatal("purge removed a recording within retention")
	}
	ents, _ := h.st.Audit(t.Context(), 10)
	if len(ents) == 0 || ents[0].Action != "retention.purge" {
		t.Fatalf("purge not audited: %+v", ents)
	}
}

func TestRunPurgeOnSchedule(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	h.fullRecording(d, "old", 1, "ann@example.com")
	h.now = h.now.AddDate(4, 0, 0)
	ctx, cancel := contextWithTimeout(t, 5*time.Second)
	defer cancel()
	go h.srv.RunPurge(ctx, 10*time.Millisecond)
	for ctx.Err() == nil {
		if _, err := h.st.Recording(t.Context(), "old"); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the scheduled purge did not remove an expired recording")
}

func TestDeviceReachesOnlyItsOwnUploads(t *testing.T) {
	h := newHarness(t)
	a, b := h.enrol(1), h.enrol(2)
	h.fullRecordingRegisterOnly(a, "rec-a")
	data := segData("rec-a", 1)
	req, _ := http.NewRequest("POST", h.ts.URL+"/v1/uploads/", nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.Itoa(len(data)))
	req.Header.Set("Upload-Metadata", meta(map[string]string{"recording": "rec-a", "index": "1", "sha256": sum(data)}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v %v", resp, err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	for _, m := range []string{"HEAD", "PATCH", "DELETE"} {
		req, _ := http.NewRequest(m, loc, bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+b.token)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Offset", "0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Fatalf("device b %s on device a's upload: %d", m, resp.StatusCode)
		}
	}
	req, _ = http.NewRequest("HEAD", loc, nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	resp, _ = http.DefaultClient.Do(req)
	if resp.StatusCode != 200 || resp.Header.Get("Upload-Offset") != "0" {
		t.Fatalf("owner HEAD: %d offset %q", resp.StatusCode, resp.Header.Get("Upload-Offset"))
	}
}

// resign recomputes the hash chain and the signature of r with key, as a
// device with a tampering app could: the record is intact and signed, but
// what it says must still be checked.
func resign(t *testing.T, r *consent.Record, key ed25519.PrivateKey) []byte {
	t.Helper()
	prev := r.HeaderHash()
	for i := range r.Events {
		r.Events[i].Prev = prev
		r.Events[i].Hash = consent.EventHash(&r.Events[i])
		prev = r.Events[i].Hash
	}
	head := r.Head()
	h, _ := hex.DecodeString(head)
	var msg bytes.Buffer
	msg.WriteString("assent.record.signature.v1\x00" + r.RecordID + "\x00")
	binary.Write(&msg, binary.BigEndian, uint64(len(r.Events)))
	msg.Write(h)
	r.Signature = &consent.Signature{Alg: "Ed25519", KeyID: r.DeviceKeyID, Count: len(r.Events), Head: head,
		Value: base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg.Bytes()))}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consent.Parse(b); err != nil {
		t.Fatalf("resigned record does not parse: %v", err)
	}
	return b
}

func TestEveryStoredSecondProvable_SignedButUncoveredRecordRefused(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	r, err := consent.Parse(makeRecord(t, d.key, "rec-u", true, "ann@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	// Claim 0.2 s of audio was recorded before anyone consented: shift every
	// event from the consent request on by 9600 frames.
	shifted := false
	for i := range r.Events {
		if r.Events[i].Type == consent.ConsentRequested {
			shifted = true
		}
		if shifted {
			r.Events[i].Offset += 9600
		}
	}
	resp, body := h.do("POST", "/v1/recordings", d.token, map[string]any{"id": "rec-u", "record": json.RawMessage(resign(t, r, d.key))})
	wantProblem(t, resp, body, 422, "record-invalid")
	t.Logf("refusal: %s", body)
	if _, err := h.st.Recording(t.Context(), "rec-u"); err == nil {
		t.Fatal("an uncovered record was accepted")
	}
	// The same re-signing without the change is accepted: the refusal is about coverage.
	r2, _ := consent.Parse(makeRecord(t, d.key, "rec-v", true, "ann@example.com"))
	if resp, body := h.do("POST", "/v1/recordings", d.token, map[string]any{"id": "rec-v", "record": json.RawMessage(resign(t, r2, d.key))}); resp.StatusCode != 201 {
		t.Fatalf("re-signed intact record: %d %s", resp.StatusCode, body)
	}
}
