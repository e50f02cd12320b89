package desktop

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-app/assent/app"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/sync/server"
	"github.com/assent-app/assent/sync/server/consentpage"
)

// assentd runs the organisation's server with the consent pages mounted,
// as cmd/assentd does, and returns its URL and an enrolment code.
func assentd(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := server.OpenSQLite(filepath.Join(dir, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: st, Objects: server.LocalObjects{Dir: filepath.Join(dir, "objects")},
		UploadDir: filepath.Join(dir, "uploads"), AdminToken: "admin-token-for-desktop-tests", SubjectSalt: []byte("salt-for-desktop-tests")})
	if err != nil {
		t.Fatal(err)
	}
	pages, err := consentpage.New(consentpage.Config{Auth: consentpage.BearerAuth(func(ctx context.Context, h string) (string, error) {
		d, err := st.DeviceByToken(ctx, h)
		return d.ID, err
	}, server.ErrNotFound)})
	if err != nil {
		t.Fatal(err)
	}
	pages.Register(srv)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); st.Close() })
	code, _, err := server.NewEnrolmentCode(context.Background(), st, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return ts.URL, code
}

var noticeRe = regexp.MustCompile(`name="notice" value="([0-9a-f]{64})"`)

// answerOnPhone does what a participant's browser does on the consent page.
func answerOnPhone(t *testing.T, link string, decision string) {
	t.Helper()
	f := url.Values{"decision": {decision}, "age": {"yes"}, "lang": {"en"}}
	if decision != "withdrawn" {
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := noticeRe.FindSubmatch(b)
		if m == nil {
			t.Fatalf("the consent page shows no form:\n%s", b)
		}
		f.Set("notice", string(m[1]))
	}
	resp, err := http.PostForm(link, f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("answer %s: %d", decision, resp.StatusCode)
	}
}

// The real backend: a participant agrees on their own device through the
// enrolled server's link, recording runs, their remote withdrawal ends it.
func TestNoConsentNoAudio_DesktopRemoteConsent(t *testing.T) {
	b := newBackend(t)
	srvURL, code := assentd(t)
	if err := b.Enrol(srvURL, code); err != nil {
		t.Fatal(err)
	}
	c, err := b.NewCall(app.CallSetup{Title: "remote", Participants: []app.ParticipantInfo{{Name: "Ana", Lang: "en"}, {Name: "Bob", Lang: "en"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	st := c.State()
	ana, bob := st.Participants[0].ID, st.Participants[1].ID
	if err := c.Decide(ana, agree("en")); err != nil {
		t.Fatal(err)
	}
	link, err := c.ConsentLink(bob)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link.URL, srvURL+"/c/") || len(link.QR) < 100 || link.Expires.Before(time.Now().Add(time.Hour)) {
		t.Fatalf("link %+v", link)
	}
	again, err := c.ConsentLink(bob)
	if err != nil || again.URL != link.URL {
		t.Fatalf("asking twice gave another link: %v", err)
	}
	answerOnPhone(t, link.URL, "given")
	waitState(t, c, "Bob's remote consent", func(s app.CallState) bool {
		return s.Participants[1].State == app.Given && s.Participants[1].Method == consent.Remote
	})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "recording", func(s app.CallState) bool { return s.Phase == app.PhaseRecording && s.Recorded > 200*time.Millisecond })
	answerOnPhone(t, link.URL, "withdrawn")
	end := waitState(t, c, "the call ending after Bob withdrew", func(s app.CallState) bool { return s.Phase == app.PhaseEnded })
	if end.Reason != app.WithdrawnBy || end.Who != "Bob" || end.RecordingID == "" {
		t.Fatalf("end %+v", end)
	}
}

func TestBadInputGetsClearError_DesktopConsentLinkWithoutServer(t *testing.T) {
	b := newBackend(t)
	c, err := b.NewCall(app.CallSetup{Title: "local", Participants: []app.ParticipantInfo{{Name: "Ana", Lang: "en"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	_, err = c.ConsentLink(c.State().Participants[0].ID)
	if err == nil || !strings.Contains(err.Error(), "On-screen and verbal consent work") {
		t.Fatalf("without a server: %v", err)
	}
}
