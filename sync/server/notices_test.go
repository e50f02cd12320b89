package server

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/consent"
)

// testNotices are the texts makeRecord's records cite, as a device sends them.
func testNotices(t *testing.T) []NoticeText {
	t.Helper()
	set, err := consent.NewLibrary(assets.Notices()).RenderSet(consent.DefaultNoticeID, "1", consent.OrgParams{Controller: "Acme", Contact: "privacy@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	var out []NoticeText
	for _, l := range set.Langs() {
		out = append(out, NoticeText{SHA256: set.Texts[l].SHA256, Lang: l, Text: set.Texts[l].Text})
	}
	return out
}

// Issue 10 item 5: the exact notice texts are uploaded with the record,
// checked against its header, stored next to it, exported to the person and
// erased with the recording.
func TestNoticeTextsUploadedCheckedStoredAndErased(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	rec := makeRecord(t, d.key, "rec-n", false, "ann@example.com")
	ns := testNotices(t)
	if len(ns) < 2 {
		t.Fatalf("want several languages, got %d", len(ns))
	}

	// A text the record does not cite.
	stray := "# Some other notice\n"
	bad := append(append([]NoticeText{}, ns...), NoticeText{SHA256: sum([]byte(stray)), Lang: "en", Text: stray})
	resp, body := h.do("POST", "/v1/recordings", d.token, RegisterRequest{ID: "rec-n", Record: rec, Notices: bad})
	wantProblem(t, resp, body, 422, "notice-mismatch")
	if !strings.Contains(string(body), "not a notice text the consent record cites") {
		t.Fatalf("unclear problem: %s", body)
	}
	// A text whose bytes do not hash to its sha256.
	bad = append([]NoticeText{}, ns...)
	bad[0].Text += " "
	resp, body = h.do("POST", "/v1/recordings", d.token, RegisterRequest{ID: "rec-n", Record: rec, Notices: bad})
	wantProblem(t, resp, body, 422, "notice-mismatch")
	// A cited text missing.
	resp, body = h.do("POST", "/v1/recordings", d.token, RegisterRequest{ID: "rec-n", Record: rec, Notices: ns[1:]})
	wantProblem(t, resp, body, 422, "notice-mismatch")
	if !strings.Contains(string(body), "was not sent") {
		t.Fatalf("unclear problem: %s", body)
	}
	if _, err := h.st.Recording(t.Context(), "rec-n"); err == nil {
		t.Fatal("a refused registration was indexed")
	}

	resp, body = h.do("POST", "/v1/recordings", d.token, RegisterRequest{ID: "rec-n", Record: rec, Notices: ns})
	if resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	for _, n := range ns {
		b, err := os.ReadFile(filepath.Join(h.dir, "objects", filepath.FromSlash(noticeKey("rec-n", n.SHA256))))
		if err != nil || sum(b) != n.SHA256 || string(b) != n.Text {
			t.Fatalf("stored %s text: %v", n.Lang, err)
		}
	}

	// The person's export holds them.
	ann := map[string]string{"email": "ann@example.com"}
	resp, body = h.do("POST", "/v1/admin/subjects/export", testAdmin, ann)
	if resp.StatusCode != 200 {
		t.Fatalf("export: %d", resp.StatusCode)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		got[f.Name] = string(b)
	}
	for _, n := range ns {
		if got[noticeKey("rec-n", n.SHA256)] != n.Text {
			t.Fatalf("the export lacks the %s notice text", n.Lang)
		}
	}
	if !strings.Contains(got["manifest.json"], "notice_files") {
		t.Fatal("the manifest does not list the notice texts")
	}

	// Erasure removes them with the recording.
	resp, body = h.do("POST", "/v1/admin/subjects/erase", testAdmin, ann)
	if resp.StatusCode != 200 {
		t.Fatalf("erase: %d %s", resp.StatusCode, body)
	}
	assertGone(t, h, "rec-n")
	for _, n := range ns {
		if rc, err := h.srv.cfg.Objects.Get(t.Context(), noticeKey("rec-n", n.SHA256)); err == nil {
			rc.Close()
			t.Fatalf("the %s notice text survived the erasure", n.Lang)
		}
	}
}

// With RequireNoticeTexts (assentd's default) a record registered without
// the texts it cites is refused in plain words that say what to do, and
// nothing is indexed; with the texts it is accepted.
func TestBadInputGetsClearError_RecordWithoutNoticeTexts(t *testing.T) {
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := newHarnessCfg(t, st, nil, func(c *Config) { c.RequireNoticeTexts = true })
	d := h.enrol(1)
	rec := makeRecord(t, d.key, "rec-nt", false, "ann@example.com")
	resp, body := h.do("POST", "/v1/recordings", d.token, RegisterRequest{ID: "rec-nt", Record: rec})
	wantProblem(t, resp, body, 422, "notice-texts-missing")
	for _, want := range []string{"without the notice texts", "Update Assent", "-require-notice-texts=false"} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("the problem does not say %q: %s", want, body)
		}
	}
	if _, err := h.st.Recording(t.Context(), "rec-nt"); err == nil {
		t.Fatal("a record without its notice texts was indexed")
	}
	resp, body = h.do("POST", "/v1/recordings", d.token, RegisterRequest{ID: "rec-nt", Record: rec, Notices: testNotices(t)})
	if resp.StatusCode != 201 {
		t.Fatalf("register with the texts: %d %s", resp.StatusCode, body)
	}
}
