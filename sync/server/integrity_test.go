package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/testenv"
)

// ---- records that grow, as a device writes them ---------------------------------

// liveRecord is one recording's consent session as a device runs it: each
// snapshot is the record file at that moment, so later snapshots extend
// earlier ones.
type liveRecord struct {
	t   testing.TB
	key ed25519.PrivateKey
	s   *consent.Session
	n   int
}

func newLiveRecord(t testing.TB, key ed25519.PrivateKey, recID string) *liveRecord {
	t.Helper()
	set, err := consent.NewLibrary(assets.Notices()).RenderSet(consent.DefaultNoticeID, "1", consent.OrgParams{Controller: "Acme", Contact: "privacy@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	clk := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	s, err := consent.NewSession(consent.Config{RecordingID: recID, Notices: set, Signer: key, Now: func() time.Time { clk = clk.Add(time.Millisecond); return clk }})
	if err != nil {
		t.Fatal(err)
	}
	return &liveRecord{t: t, key: key, s: s}
}

func (l *liveRecord) apply(e consent.Event) {
	l.t.Helper()
	if _, err := l.s.Apply(e); err != nil {
		l.t.Fatalf("apply %s: %v", e.Type, err)
	}
}

// join adds a person who consents (on screen) and confirms their age.
func (l *liveRecord) join(email string) {
	id := "p" + strconv.Itoa(l.n)
	l.n++
	l.apply(consent.Event{Type: consent.ParticipantAdded, Participant: id, Principal: &consent.Principal{Name: "Person " + id, Email: email, Lang: "en"}})
	l.apply(consent.Event{Type: consent.ConsentRequested, Participant: id})
	l.apply(consent.Event{Type: consent.ConsentGiven, Participant: id, Method: consent.OnScreen})
	l.apply(consent.Event{Type: consent.AgeConfirmed, Participant: id, Method: consent.OnScreen})
}

func (l *liveRecord) record() []byte {
	l.t.Helper()
	b, err := l.s.Record()
	if err != nil {
		l.t.Fatal(err)
	}
	return b
}

func (h *harness) register(d dev, id string, record []byte) (*http.Response, []byte) {
	h.t.Helper()
	return h.do("POST", "/v1/recordings", d.token, map[string]any{"id": id, "record": json.RawMessage(record)})
}

// A consent record only grows: a new version must be the stored one with
// events appended. Anything else — another header, fewer events, a changed
// event — is refused and the stored version stays.
func TestEveryStoredSecondProvable_RecordOnlyGrows(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	live := newLiveRecord(t, d.key, "rec-g")
	live.join("ann@example.com")
	live.apply(consent.Event{Type: consent.RecordingRequested})
	v1 := live.record()
	if resp, body := h.register(d, "rec-g", v1); resp.StatusCode != 201 {
		t.Fatalf("register v1: %d %s", resp.StatusCode, body)
	}
	live.s.Admit(4800)
	live.join("bob@example.com")
	v2 := live.record()
	if resp, body := h.register(d, "rec-g", v2); resp.StatusCode != 200 {
		t.Fatalf("register v2 (extends v1): %d %s", resp.StatusCode, body)
	}
	if resp, body := h.register(d, "rec-g", v2); resp.StatusCode != 200 {
		t.Fatalf("register v2 again: %d %s", resp.StatusCode, body)
	}

	// An older version after a newer one.
	resp, body := h.register(d, "rec-g", v1)
	wantProblem(t, resp, body, 409, "record-not-extension")

	// Another record (new record id: a different header) for the same recording.
	other := newLiveRecord(t, d.key, "rec-g")
	other.join("ann@example.com")
	other.apply(consent.Event{Type: consent.RecordingRequested})
	other.s.Admit(4800)
	other.join("bob@example.com")
	other.s.Admit(4800)
	other.apply(consent.Event{Type: consent.RecordingPaused})
	resp, body = h.register(d, "rec-g", other.record())
	wantProblem(t, resp, body, 409, "record-not-extension")

	// The same events with one earlier event rewritten (re-signed by the
	// device key, so it verifies on its own).
	r, err := consent.Parse(v2)
	if err != nil {
		t.Fatal(err)
	}
	r.Events[0].Principal.Name = "Someone Else"
	resp, body = h.register(d, "rec-g", resign(t, r, d.key))
	wantProblem(t, resp, body, 409, "record-not-extension")

	got := h.storedRecord("rec-g")
	if !bytes.Equal(got, compact(t, v2)) {
		t.Fatalf("the stored record is not v2 after refused versions:\n%s", got)
	}
}

func compact(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (h *harness) storedRecord(id string) []byte {
	h.t.Helper()
	rc, err := h.srv.Objects().Get(context.Background(), recordKey(id))
	if err != nil {
		h.t.Fatalf("stored record of %s: %v", id, err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return b
}

// Two devices register the same new id at once: exactly one wins, and the
// stored record is the winner's.
func TestEveryStoredSecondProvable_ConcurrentRegistrationKeepsWinnersRecord(t *testing.T) {
	h := newHarness(t)
	a, b := h.enrol(1), h.enrol(2)
	for round := 0; round < 8; round++ {
		id := fmt.Sprintf("rec-race-%d", round)
		recA := makeRecord(t, a.key, id, false, "ann@example.com")
		recB := makeRecord(t, b.key, id, false, "bob@example.com")
		var wg gosync.WaitGroup
		codes := make([]int, 2)
		for i, x := range []struct {
			d   dev
			rec []byte
		}{{a, recA}, {b, recB}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", h.ts.URL+"/v1/recordings", bytes.NewReader(mustJSON(map[string]any{"id": id, "record": json.RawMessage(x.rec)})))
				req.Header.Set("Authorization", "Bearer "+x.d.token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					codes[i] = resp.StatusCode
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
		if !(codes[0] == 201 && codes[1] == 409) && !(codes[0] == 409 && codes[1] == 201) {
			t.Fatalf("round %d: answers %v, want one 201 and one 409", round, codes)
		}
		rec, err := h.st.Recording(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		winner := a
		if rec.DeviceID == b.id {
			winner = b
		}
		var stored consent.Record
		json.Unmarshal(h.storedRecord(id), &stored)
		if stored.DeviceKeyID != consent.KeyID(winner.key.Public().(ed25519.PublicKey)) {
			t.Fatalf("round %d: the index names device %s but the stored record is the other device's", round, rec.DeviceID)
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// A person added to a recording after its first registration is indexed,
// found, restricted and erased like everyone else.
func TestDeleteMeansDelete_PersonAddedLaterIsErased(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	live := newLiveRecord(t, d.key, "rec-late")
	live.join("ann@example.com")
	live.apply(consent.Event{Type: consent.RecordingRequested})
	live.s.Admit(4800)
	if resp, body := h.register(d, "rec-late", live.record()); resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	live.join("carl@example.com")
	live.s.Admit(4800)
	if resp, body := h.register(d, "rec-late", live.record()); resp.StatusCode != 200 {
		t.Fatalf("register v2: %d %s", resp.StatusCode, body)
	}
	data := segData("rec-late", 1)
	if resp, body := h.upload(d, "rec-late", 1, data, sum(data)); resp.StatusCode != 204 {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	_, body := h.do("POST", "/v1/admin/subjects/recordings", testAdmin, map[string]string{"email": "Carl@Example.com"})
	if !strings.Contains(string(body), "rec-late") {
		t.Fatalf("the late joiner's recordings: %s", body)
	}
	h.do("POST", "/v1/admin/subjects/restrict", testAdmin, map[string]string{"email": "carl@example.com"})
	resp, body := h.do("GET", "/v1/recordings/rec-late/segments/1", d.token, nil)
	wantProblem(t, resp, body, 403, "restricted")

	resp, body = h.do("POST", "/v1/admin/subjects/erase", testAdmin, map[string]string{"email": "carl@example.com"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), "rec-late") {
		t.Fatalf("erase: %d %s", resp.StatusCode, body)
	}
	h.assertNoTrace("rec-late", "carl@example.com")
}

// assertNoTrace checks that nothing on the server names recording id or
// holds the address: no index entry, segment row, subject row, object,
// upload in progress, or file under the server's directories.
func (h *harness) assertNoTrace(id, email string) {
	h.t.Helper()
	ctx := context.Background()
	if _, err := h.st.Recording(ctx, id); !errors.Is(err, ErrNotFound) {
		h.t.Fatalf("recording %s still indexed (%v)", id, err)
	}
	if segs, _ := h.st.Segments(ctx, id); len(segs) != 0 {
		h.t.Fatalf("segment rows left: %+v", segs)
	}
	if recs, _ := h.st.RecordingsBySubject(ctx, h.srv.subjectHash(email)); len(recs) != 0 {
		h.t.Fatalf("subject index still finds %+v", recs)
	}
	if _, err := h.srv.Objects().Get(ctx, recordKey(id)); !errors.Is(err, ErrNotFound) {
		h.t.Fatalf("record.json still stored (%v)", err)
	}
	if ups, _ := h.srv.uploadsOf(id); len(ups) != 0 {
		h.t.Fatalf("%d uploads in progress still name %s", len(ups), id)
	}
	filepath.Walk(h.dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		if strings.Contains(p, id) {
			h.t.Fatalf("file %s names the erased recording", p)
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(email)) || bytes.Contains(b, []byte(`"recording":"`+id)) || bytes.Contains(b, []byte(id)) {
			h.t.Fatalf("file %s still holds the erased person's address or recording", p)
		}
		return nil
	})
}

// slowUpload is a tus upload whose PATCH body is still arriving.
type slowUpload struct {
	loc  string
	pw   *io.PipeWriter
	done chan int // the PATCH's status when it ends
}

func (h *harness) startSlowUpload(d dev, rec string, idx int, data []byte) *slowUpload {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.ts.URL+"/v1/uploads/", nil)
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.Itoa(len(data)))
	req.Header.Set("Upload-Metadata", meta(map[string]string{"recording": rec, "index": strconv.Itoa(idx), "sha256": sum(data)}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		h.t.Fatalf("create upload %d: %v %v", idx, resp, err)
	}
	resp.Body.Close()
	u := &slowUpload{loc: resp.Header.Get("Location"), done: make(chan int, 1)}
	pr, pw := io.Pipe()
	u.pw = pw
	preq, _ := http.NewRequest("PATCH", u.loc, pr)
	preq.Header.Set("Authorization", "Bearer "+d.token)
	preq.Header.Set("Tus-Resumable", "1.0.0")
	preq.Header.Set("Upload-Offset", "0")
	preq.Header.Set("Content-Type", "application/offset+octet-stream")
	preq.ContentLength = int64(len(data))
	// A connection of its own: a PATCH answered before its body ended must
	// not leave half a body on a connection the other requests reuse.
	own := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	go func() {
		resp, err := own.Do(preq)
		if err != nil {
			u.done <- -1
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		u.done <- resp.StatusCode
	}()
	pw.Write(data[:len(data)/2]) // half the segment arrives, then the client stalls
	return u
}

// The hard rule at the server: a person is erased while 20 uploads of their
// recording are in flight; afterwards no object, row, upload or file names
// them, and the uploads cannot re-create anything when their bytes finish.
func TestDeleteMeansDelete_EraseWhileTwentyUploadsInFlight(t *testing.T) {
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessCfg(t, st, nil, func(c *Config) { c.UploadReadTimeout = 2 * time.Second })
	d := h.enrol(1)
	live := newLiveRecord(t, d.key, "rec-fly")
	live.join("ann@example.com")
	live.apply(consent.Event{Type: consent.RecordingRequested})
	live.s.Admit(48000)
	if resp, body := h.register(d, "rec-fly", live.record()); resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	first := segData("rec-fly", 1)
	if resp, body := h.upload(d, "rec-fly", 1, first, sum(first)); resp.StatusCode != 204 {
		t.Fatalf("upload 1: %d %s", resp.StatusCode, body)
	}
	var ups []*slowUpload
	var datas [][]byte
	for i := 2; i <= 21; i++ {
		data := segData("rec-fly", i)
		datas = append(datas, data)
		ups = append(ups, h.startSlowUpload(d, "rec-fly", i, data))
	}
	if ups, _ := h.srv.uploadsOf("rec-fly"); len(ups) != 20 {
		t.Fatalf("%d uploads in progress before the erasure, want 20", len(ups))
	}
	resp, body := h.do("POST", "/v1/admin/subjects/erase", testAdmin, map[string]string{"email": "ann@example.com"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), "rec-fly") {
		t.Fatalf("erase: %d %s", resp.StatusCode, body)
	}
	// The uploads in progress were ended by the erasure itself: their files
	// are gone and their PATCH requests were cut off while the clients were
	// still stalled, before any more bytes came.
	if ups, _ := h.srv.uploadsOf("rec-fly"); len(ups) != 0 {
		t.Fatalf("%d uploads of the erased recording survive the erasure", len(ups))
	}
	// The clients now send the rest of their bytes, into nothing: no PATCH
	// may end in a stored segment.
	for i, u := range ups {
		go func() {
			u.pw.Write(datas[i][len(datas[i])/2:])
			u.pw.Close()
		}()
	}
	deadline := time.After(60 * time.Second)
	for i, u := range ups {
		select {
		case code := <-u.done:
			if code == 204 {
				t.Fatalf("upload %d finished as stored after the erasure", i+2)
			}
		case <-deadline:
			t.Fatalf("upload %d still running 60 s after the erasure", i+2)
		}
	}
	// A late finish through the commit endpoint and a re-registration fail too.
	resp, body = h.register(d, "rec-fly", live.record())
	wantProblem(t, resp, body, 410, "deleted")
	resp, body = h.upload(d, "rec-fly", 22, segData("rec-fly", 22), sum(segData("rec-fly", 22)))
	if resp.StatusCode < 400 {
		t.Fatalf("a new upload for the erased recording: %d %s", resp.StatusCode, body)
	}
	if res, err := h.srv.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("sweep after erasure: %+v", res)
	}
	h.assertNoTrace("rec-fly", "ann@example.com")
}

// An upload that finishes after its device deleted the recording is
// discarded, and finds nothing to re-create.
func TestDeleteMeansDelete_FinishAfterDeviceDelete(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	h.fullRecordingRegisterOnly(d, "rec-del")
	data := segData("rec-del", 1)
	u := h.startSlowUpload(d, "rec-del", 1, data)
	resp, _ := h.do("DELETE", "/v1/recordings/rec-del", d.token, nil)
	if resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	u.pw.Write(data[len(data)/2:])
	u.pw.Close()
	if code := <-u.done; code == 204 {
		t.Fatal("the upload was stored after the recording was deleted")
	}
	h.assertNoTrace("rec-del", "ann@example.com")
}

// ---- isolation ------------------------------------------------------------------------------------

// X-HTTP-Method-Override is refused: tusd would execute the overridden
// method, so an ownership check on the request's own method is not enough.
func TestDeviceReachesOnlyItsOwnUploads_MethodOverride(t *testing.T) {
	h := newHarness(t)
	a, b := h.enrol(1), h.enrol(2)
	h.fullRecordingRegisterOnly(a, "rec-mo")
	data := segData("rec-mo", 1)
	req, _ := http.NewRequest("POST", h.ts.URL+"/v1/uploads/", nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.Itoa(len(data)))
	req.Header.Set("Upload-Metadata", meta(map[string]string{"recording": "rec-mo", "index": "1", "sha256": sum(data)}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v %v", resp, err)
	}
	u := struct{ loc string }{resp.Header.Get("Location")}
	req, _ = http.NewRequest("PATCH", u.loc, bytes.NewReader(data[:len(data)/2])) // the first half only
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("first half: %v %v", resp, err)
	}
	offset := func() (int, string) {
		req, _ := http.NewRequest("HEAD", u.loc, nil)
		req.Header.Set("Authorization", "Bearer "+a.token)
		req.Header.Set("Tus-Resumable", "1.0.0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Upload-Offset")
	}
	_, before := offset()
	for _, who := range []dev{b, a} {
		for _, m := range []string{"HEAD", "PATCH", "DELETE", "GET"} {
			req, _ := http.NewRequest("POST", u.loc, bytes.NewReader([]byte("injected")))
			req.Header.Set("Authorization", "Bearer "+who.token)
			req.Header.Set("Tus-Resumable", "1.0.0")
			req.Header.Set("X-HTTP-Method-Override", m)
			req.Header.Set("Upload-Offset", "0")
			req.Header.Set("Content-Type", "application/offset+octet-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			wantProblem(t, resp, body, 400, "method-override")
		}
	}
	// Malformed ids (path tricks) look exactly like unknown ones.
	for _, id := range []string{"..%2Findex.db", "00000000000000000000000000000000", "abc.info"} {
		req, _ := http.NewRequest("DELETE", h.ts.URL+"/v1/uploads/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+a.token)
		req.Header.Set("Tus-Resumable", "1.0.0")
		resp, _ := http.DefaultClient.Do(req)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantProblem(t, resp, body, 404, "no-upload")
	}
	// The upload is untouched: same offset, still the owner's.
	if code, after := offset(); code != 200 || after != before {
		t.Fatalf("owner HEAD: %d offset %q, want 200 and %q", code, after, before)
	}
}

// Invented HTTP methods do not add series to /metrics.
func TestMetricsLabelsBounded(t *testing.T) {
	h := newHarness(t)
	metricsLines := func() int {
		_, body := h.do("GET", "/metrics", "", nil)
		return bytes.Count(body, []byte("\n"))
	}
	for i := 0; i < 5; i++ {
		h.do(fmt.Sprintf("BREW%d", i), "/v1/recordings", "", nil)
	}
	before := metricsLines()
	for i := 5; i < 60; i++ {
		h.do(fmt.Sprintf("BREW%d", i), "/v1/recordings", "", nil)
		h.do(fmt.Sprintf("X%d", i), "/nowhere/"+strconv.Itoa(i), "", nil)
	}
	if after := metricsLines(); after > before+40 {
		t.Fatalf("/metrics grew from %d to %d lines with invented methods and paths", before, after)
	}
	_, body := h.do("GET", "/metrics", "", nil)
	if strings.Contains(string(body), "BREW") {
		t.Fatal("/metrics carries an invented method")
	}
}

// ---- audio bound to the record (item 1) ----------------------------------------------------------

// sealedRecord appends SegmentSealed events (and optionally the stop) to a
// device's record and signs it, as the device's seal path does.
func sealedRecord(t testing.TB, base []byte, key ed25519.PrivateKey, segs []consent.SegmentRef, stopAt int64) []byte {
	t.Helper()
	var r consent.Record
	if err := json.Unmarshal(base, &r); err != nil {
		t.Fatal(err)
	}
	last, _ := time.Parse("2006-01-02T15:04:05.000000000Z", r.Events[len(r.Events)-1].Time)
	add := func(e consent.Event) {
		last = last.Add(time.Millisecond)
		e.Seq = len(r.Events)
		e.Time = last.UTC().Format("2006-01-02T15:04:05.000000000Z")
		e.Prev = r.Head()
		e.Hash = consent.EventHash(&e)
		r.Events = append(r.Events, e)
	}
	for _, sg := range segs {
		sg := sg
		add(consent.Event{Type: consent.SegmentSealed, Offset: sg.End, Segment: &sg})
	}
	if stopAt >= 0 {
		add(consent.Event{Type: consent.RecordingStopped, Offset: stopAt})
	}
	return signRecord(t, &r, key)
}

func signRecord(t testing.TB, r *consent.Record, key ed25519.PrivateKey) []byte {
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
	return b
}

func newSealedHarness(t *testing.T) *harness {
	t.Helper()
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, dir: t.TempDir(), now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	srv, err := New(Config{
		Store: st, Objects: LocalObjects{Dir: filepath.Join(h.dir, "objects")}, UploadDir: filepath.Join(h.dir, "uploads"),
		AdminToken: testAdmin, SubjectSalt: []byte("0123456789abcdef-salt"), RequireSealedSegments: true,
		Now: func() time.Time { return h.now }, PolicyKey: testPolicyKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	if _, err := srv.SetPolicy(t.Context(), testPolicy); err != nil {
		t.Fatal(err)
	}
	h.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(func() { h.ts.Close(); st.Close() })
	return h
}

func ref(idx int, start, end int64, data []byte) consent.SegmentRef {
	return consent.SegmentRef{Index: idx, Start: start, End: end, SHA256: sum(data), Size: int64(len(data))}
}

// The server stores a segment only if the latest record lists it with its
// hash and size and consent covers its span; it finalises only with a final
// record whose segments are exactly the stored ones, ending where the audio ends.
func TestEveryStoredSecondProvable_SegmentsBoundToRecord(t *testing.T) {
	h := newSealedHarness(t)
	d := h.enrol(1)
	live := newLiveRecord(t, d.key, "rec-b")
	live.join("ann@example.com")
	live.apply(consent.Event{Type: consent.RecordingRequested})
	live.s.Admit(9600)
	base := live.record()
	seg1, seg2 := segData("rec-b", 1), segData("rec-b", 2)

	// Registered before segment 1 was sealed: the record does not list it.
	if resp, body := h.register(d, "rec-b", base); resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	resp, body := h.upload(d, "rec-b", 1, seg1, sum(seg1))
	wantProblem(t, resp, body, 422, "segment-not-in-record")
	if segs, _ := h.st.Segments(t.Context(), "rec-b"); len(segs) != 0 {
		t.Fatalf("a segment the record does not list was stored: %+v", segs)
	}

	// The record seals segment 1 with other bytes: refused.
	wrong := sealedRecord(t, base, d.key, []consent.SegmentRef{ref(1, 0, 9600, seg2)}, -1)
	if resp, body := h.register(d, "rec-b", wrong); resp.StatusCode != 200 {
		t.Fatalf("register sealed: %d %s", resp.StatusCode, body)
	}
	resp, body = h.upload(d, "rec-b", 1, seg1, sum(seg1))
	wantProblem(t, resp, body, 422, "segment-not-in-record")

	// A fresh recording whose record seals segment 1 as the device did.
	live2 := newLiveRecord(t, d.key, "rec-c")
	live2.join("ann@example.com")
	live2.apply(consent.Event{Type: consent.RecordingRequested})
	live2.s.Admit(9600)
	base2 := live2.record()
	one := sealedRecord(t, base2, d.key, []consent.SegmentRef{ref(1, 0, 9600, seg1)}, -1)
	if resp, body := h.register(d, "rec-c", one); resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	if resp, body := h.upload(d, "rec-c", 1, seg1, sum(seg1)); resp.StatusCode != 204 {
		t.Fatalf("upload of a sealed, listed segment: %d %s", resp.StatusCode, body)
	}
	// Segment 2 claims frames beyond what the record covers.
	two := sealedRecord(t, base2, d.key, []consent.SegmentRef{ref(1, 0, 9600, seg1), ref(2, 9600, 19200, seg2)}, -1)
	if resp, body := h.register(d, "rec-c", two); resp.StatusCode != 200 {
		t.Fatalf("register two: %d %s", resp.StatusCode, body)
	}
	resp, body = h.upload(d, "rec-c", 2, seg2, sum(seg2))
	if resp.StatusCode != 204 {
		t.Fatalf("segment 2 is covered (the gate stayed open until its seal event): %d %s", resp.StatusCode, body)
	}

	// Finalise: a final record that ends later than its audio is refused;
	// one whose segments are exactly the stored ones is accepted.
	segInfos := []SegmentInfo{{Index: 1, Size: int64(len(seg1)), SHA256: sum(seg1)}, {Index: 2, Size: int64(len(seg2)), SHA256: sum(seg2)}}
	var r consent.Record
	json.Unmarshal(two, &r)
	longer := sealedRecord(t, base2, d.key, []consent.SegmentRef{ref(1, 0, 9600, seg1), ref(2, 9600, 19200, seg2)}, 19200+48000)
	resp, body = h.do("PUT", "/v1/recordings/rec-c/final", d.token, map[string]any{"record": json.RawMessage(longer), "segments": segInfos})
	wantProblem(t, resp, body, 422, "record-segments-mismatch")
	onlyOne := sealedRecord(t, base2, d.key, []consent.SegmentRef{ref(1, 0, 9600, seg1)}, 9600)
	resp, body = h.do("PUT", "/v1/recordings/rec-c/final", d.token, map[string]any{"record": json.RawMessage(onlyOne), "segments": segInfos})
	if resp.StatusCode < 400 {
		t.Fatalf("a final record that omits a stored segment was accepted: %d %s", resp.StatusCode, body)
	}
	final := sealedRecord(t, base2, d.key, []consent.SegmentRef{ref(1, 0, 9600, seg1), ref(2, 9600, 19200, seg2)}, 19200)
	resp, body = h.do("PUT", "/v1/recordings/rec-c/final", d.token, map[string]any{"record": json.RawMessage(final), "segments": segInfos})
	if resp.StatusCode != 200 {
		t.Fatalf("finalise with exactly the stored segments: %d %s", resp.StatusCode, body)
	}
	// After finalisation no segment is added.
	seg3 := segData("rec-c", 3)
	resp, body = h.upload(d, "rec-c", 3, seg3, sum(seg3))
	wantProblem(t, resp, body, 409, "finalised")
}

// A final record with no events (or covering nothing) stores no audio.
func TestEveryStoredSecondProvable_EmptyRecordStoresNothing(t *testing.T) {
	h := newSealedHarness(t)
	d := h.enrol(1)
	live := newLiveRecord(t, d.key, "rec-e")
	live.join("ann@example.com")
	base := live.record()
	if resp, body := h.register(d, "rec-e", base); resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	seg := segData("rec-e", 1)
	resp, body := h.upload(d, "rec-e", 1, seg, sum(seg))
	wantProblem(t, resp, body, 422, "segment-not-in-record")
	// Sealing a segment while recording was never requested: not covered.
	bad := sealedRecord(t, base, d.key, []consent.SegmentRef{ref(1, 0, 9600, seg)}, -1)
	resp, body = h.register(d, "rec-e", bad)
	if resp.StatusCode == 200 {
		resp, body = h.upload(d, "rec-e", 1, seg, sum(seg))
	}
	if resp.StatusCode < 400 {
		t.Fatalf("a segment sealed before recording was requested was stored: %d %s", resp.StatusCode, body)
	}
	if segs, _ := h.st.Segments(t.Context(), "rec-e"); len(segs) != 0 {
		t.Fatalf("stored: %+v", segs)
	}
}

// The sweeper removes stale uploads, uploads of recordings that are gone,
// and objects whose recording has no index entry (a crash between the two
// halves of a deletion), and leaves everything of a live recording alone.
func TestDeleteMeansDelete_SweeperRemovesLeftovers(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	h.fullRecording(d, "rec-live", 1, "ann@example.com")
	h.fullRecordingRegisterOnly(d, "rec-stale")
	data := segData("rec-stale", 1)
	u := h.startSlowUpload(d, "rec-stale", 1, data)
	u.pw.CloseWithError(errors.New("gave up"))
	<-u.done
	// A crash after the objects' deletion started but before the index: simulate
	// the reverse leftover — objects whose index entry is gone.
	h.fullRecording(d, "rec-ghost", 1, "bob@example.com")
	if err := h.st.DeleteRecording(t.Context(), "rec-ghost"); err != nil {
		t.Fatal(err)
	}
	res, err := h.srv.Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.OrphanObjects != 1 || res.StaleUploads != 0 {
		t.Fatalf("first sweep: %+v, want the ghost's objects only (the upload is fresh)", res)
	}
	ups, _ := h.srv.uploadsOf("rec-stale") // make it older than UploadTTL (24 h)
	for _, up := range ups {
		old := time.Now().Add(-25 * time.Hour)
		os.Chtimes(filepath.Join(h.dir, "uploads", up.ID+".info"), old, old)
	}
	if res, err = h.srv.Sweep(t.Context()); err != nil || res.StaleUploads != 1 {
		t.Fatalf("second sweep: %+v %v, want the stale upload", res, err)
	}
	h.assertNoTrace("rec-ghost", "bob@example.com")
	if _, err := h.srv.Objects().Get(t.Context(), recordKey("rec-live")); err != nil {
		t.Fatalf("the sweeper touched a live recording: %v", err)
	}
	_, body := h.do("GET", "/v1/admin/audit", testAdmin, nil)
	if !strings.Contains(string(body), "uploads.sweep") {
		t.Fatal("the sweep is not audited")
	}
}

// Uploads kept in S3 (Config.Uploads.S3, as replicas keep them) are ended by
// an erasure too: uploadsOf lists the bucket's upload info objects, the
// erasure terminates them while their PATCHes are in flight, and nothing of
// them is left in the bucket.
func TestDeleteMeansDelete_EraseEndsUploadsInS3(t *testing.T) {
	objs := realS3(t)
	env := testenv.RequireS3(t)
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessCfg(t, st, objs, func(c *Config) {
		c.UploadReadTimeout = 2 * time.Second
		c.Uploads = UploadStore{S3: &S3Config{Endpoint: env.Endpoint, Bucket: objs.bucket, AccessKey: env.AccessKey, SecretKey: env.SecretKey, PathStyle: true}}
	})
	d := h.enrol(1)
	live := newLiveRecord(t, d.key, "rec-s3")
	live.join("ann@example.com")
	live.apply(consent.Event{Type: consent.RecordingRequested})
	live.s.Admit(48000)
	if resp, body := h.register(d, "rec-s3", live.record()); resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	var ups []*slowUpload
	for i := 1; i <= 3; i++ {
		ups = append(ups, h.startSlowUpload(d, "rec-s3", i, segData("rec-s3", i)))
	}
	if got, err := h.srv.uploadsOf("rec-s3"); err != nil || len(got) != 3 {
		t.Fatalf("%d uploads in progress in the bucket before the erasure (%v), want 3", len(got), err)
	}
	resp, body := h.do("POST", "/v1/admin/subjects/erase", testAdmin, map[string]string{"email": "ann@example.com"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), "rec-s3") {
		t.Fatalf("erase: %d %s", resp.StatusCode, body)
	}
	if got, err := h.srv.uploadsOf("rec-s3"); err != nil || len(got) != 0 {
		t.Fatalf("%d uploads of the erased recording survive the erasure in the bucket (%v)", len(got), err)
	}
	for i, u := range ups {
		u.pw.Close()
		select {
		case code := <-u.done:
			if code == 204 {
				t.Fatalf("upload %d finished as stored after the erasure", i+1)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("upload %d still running 60 s after the erasure", i+1)
		}
	}
	if keys := countObjects(t, objs); len(keys) != 0 {
		t.Fatalf("the erasure left %v in the bucket", keys)
	}
}
