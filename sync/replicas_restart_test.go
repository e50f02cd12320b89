package sync_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/testenv"
	"github.com/assent-app/assent/sync/remote"
	"github.com/assent-app/assent/sync/server"
	"github.com/assent-app/assent/sync/server/consentpage"
)

// streamCounter counts the consent event streams the server accepted.
type streamCounter struct {
	inner  http.RoundTripper
	opened atomic.Int64
}

func (s *streamCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.inner.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusOK && strings.HasSuffix(r.URL.Path, "/events") {
		s.opened.Add(1)
	}
	return resp, err
}

var noticeRe = regexp.MustCompile(`name="notice" value="([0-9a-f]{64})"`)

// answerOn answers a participant's link on the replica at addr (whatever
// host the link's URL names) and returns when the server stored it, with
// the time the answer was sent.
func answerOn(t *testing.T, addr, link string) time.Time {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	page := "http://" + addr + u.Path
	resp, err := http.Get(page + "?lang=en")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := noticeRe.FindSubmatch(b)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("the participant page on %s: %d, no form", addr, resp.StatusCode)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	sent := time.Now()
	ar, err := noRedirect.PostForm(page, url.Values{"decision": {"given"}, "age": {"yes"}, "lang": {"en"}, "notice": {string(m[1])}})
	if err != nil {
		t.Fatal(err)
	}
	ar.Body.Close()
	if ar.StatusCode != http.StatusSeeOther {
		t.Fatalf("the answer on %s: %d", addr, ar.StatusCode)
	}
	return sent
}

// replayedAnswers opens a fresh event stream (no Last-Event-ID) of link id
// on addr and returns the answers it replays before the first wait.
func replayedAnswers(t *testing.T, addr, token, id string, want int) []consentpage.Answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/v1/consent-links/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("event stream on %s after the restart: %v %v", addr, resp, err)
	}
	defer resp.Body.Close()
	var out []consentpage.Answer
	err = remote.ReadEvents(resp.Body, func(ev remote.Event) error {
		if ev.Type == "answer" {
			var a consentpage.Answer
			if err := json.Unmarshal([]byte(ev.Data), &a); err != nil {
				return err
			}
			out = append(out, a)
			if len(out) == want {
				return io.EOF
			}
		}
		return nil
	})
	if err != nil && err != io.EOF {
		t.Fatalf("reading the replayed answers: %v (got %d)", err, len(out))
	}
	return out
}

// TestNothingLostOnCrash_RestartAllReplicasDuringACall: three real assentd
// processes on one PostgreSQL and one S3-compatible server. A device opens
// a remote consent link for a call with two participants and listens on
// replica B; Bob answers on replica A. Then every replica is stopped —
// SIGTERM (graceful) in one variant, SIGKILL in the other — and started
// again on the same addresses. The link still opens, Bob's answer is still
// there, the device's client reconnects to replica B by itself, and Carol's
// answer given on replica A reaches it within a second.
func TestNothingLostOnCrash_RestartAllReplicasDuringACall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the assentd binary")
	}
	testenv.RequirePostgres(t)
	s3 := testenv.RequireS3(t)
	bin := buildAssentd(t)
	for _, v := range []struct {
		name string
		sig  syscall.Signal
	}{{"SIGTERM", syscall.SIGTERM}, {"SIGKILL", syscall.SIGKILL}} {
		t.Run(v.name, func(t *testing.T) { restartAllDuringCall(t, bin, s3, v.sig) })
	}
}

func restartAllDuringCall(t *testing.T, bin string, s3 testenv.S3, sig syscall.Signal) {
	dsn, bucket, _ := schemaAndBucket(t, "r")
	logDir := t.TempDir()
	var reps []*assentdProc
	for range 3 {
		reps = append(reps, startReplicaAt(t, bin, dsn, bucket, s3, logDir, "127.0.0.1:0", "100ms"))
	}
	a, b, c := reps[0].addr, reps[1].addr, reps[2].addr

	// Enrol through replica A; the organisation's policy is set there too.
	ts := &testServer{t: t, addr: a}
	if code, body := ts.admin("PUT", "/v1/admin/policy", server.PolicyRequest{NoticeID: consent.DefaultNoticeID, NoticeVersion: "1",
		Org: consent.OrgParams{Controller: "Acme", Contact: "privacy@acme.example"}}); code/100 != 2 {
		t.Fatalf("set the policy: %d %s", code, body)
	}
	token, key := ts.enrol(t)

	// The call on the device: Bob and Carol, to answer remotely.
	set, err := consent.NewLibrary(assets.Notices()).RenderSet(consent.DefaultNoticeID, "1", consent.OrgParams{Controller: "Acme", Contact: "privacy@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	call, err := consent.NewSession(consent.Config{RecordingID: "rec-restart", Notices: set, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"bob", "carol"} {
		if _, err := call.Apply(consent.Event{Type: consent.ParticipantAdded, Participant: p, Principal: &consent.Principal{Name: p, Email: p + "@example.com", Lang: "en"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := call.Apply(consent.Event{Type: consent.RecordingRequested}); err != nil {
		t.Fatal(err)
	}
	counter := &streamCounter{inner: &http.Transport{}}
	var mu gosync.Mutex
	applied := map[string]time.Time{}
	slots := map[string]string{} // participant → slot, as the device saw the answers
	rc := &remote.Client{BaseURL: "http://" + b, Token: token, HTTP: &http.Client{Transport: counter}}
	link, err := rc.Open(t.Context(), call, remote.Request{RecordingID: "rec-restart", Notices: set, Participants: []string{"bob", "carol"},
		OnAnswer: func(an remote.Answer, _ consent.State, err error) {
			if err != nil {
				t.Errorf("answer of %s not applied: %v", an.Participant, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if _, dup := applied[an.Participant]; dup {
				t.Errorf("the answer of %s was applied twice", an.Participant)
			}
			applied[an.Participant] = time.Now()
			slots[an.Participant] = an.Slot
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	runErr := make(chan error, 1)
	go func() { runErr <- link.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runErr; err != context.Canceled {
			t.Errorf("the device's link stopped: %v", err)
		}
	}()
	appliedAt := func(p string) (time.Time, bool) { mu.Lock(); defer mu.Unlock(); at, ok := applied[p]; return at, ok }
	waitFor(t, 10*time.Second, "the device's stream on replica B", func() bool { return counter.opened.Load() >= 1 })

	answerOn(t, a, link.URLs["bob"])
	waitFor(t, 5*time.Second, "Bob's answer on replica A reaching the device on replica B", func() bool { _, ok := appliedAt("bob"); return ok })

	// Every replica stops at once, and starts again on its address.
	t0 := time.Now()
	for i, p := range reps {
		if err := p.cmd.Process.Signal(sig); err != nil {
			t.Fatalf("signal replica %d: %v", i, err)
		}
	}
	for i, p := range reps {
		err := p.cmd.Wait()
		if sig == syscall.SIGTERM && err != nil {
			t.Fatalf("replica %d did not stop cleanly on SIGTERM: %v", i, err)
		}
	}
	stopped := time.Since(t0)
	streamsBefore := counter.opened.Load() // every replica is down: no stream opens now
	for i, addr := range []string{a, b, c} {
		reps[i] = startReplicaAt(t, bin, dsn, bucket, s3, logDir, addr, "100ms")
	}
	t.Logf("%s: all 3 replicas stopped in %v, running again after %v", sig, stopped.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))

	// The link opens on every replica; Bob's answer is still there.
	for _, addr := range []string{a, b, c} {
		u, _ := url.Parse(link.URLs["carol"])
		resp, err := http.Get("http://" + addr + u.Path + "?lang=en")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("Carol's link on %s after the restart: %v %v", addr, resp, err)
		}
		resp.Body.Close()
	}
	got := replayedAnswers(t, c, token, link.ID, 1)
	mu.Lock()
	bobSlot := slots["bob"]
	mu.Unlock()
	if len(got) != 1 || got[0].Decision != consentpage.Given || got[0].Slot != bobSlot {
		t.Fatalf("answers stored for the link after the restart: %+v; want Bob's", got)
	}

	// The device reconnects by itself (to replica B, its server address).
	waitFor(t, 15*time.Second, "the device's client reconnecting after the restart", func() bool { return counter.opened.Load() > streamsBefore })
	sent := answerOn(t, a, link.URLs["carol"])
	waitFor(t, 5*time.Second, "Carol's answer on replica A reaching the device's reconnected stream on replica B", func() bool { _, ok := appliedAt("carol"); return ok })
	at, _ := appliedAt("carol")
	if d := at.Sub(sent); d > time.Second {
		t.Fatalf("Carol's answer took %v to reach the device after the restart; want within a second", d)
	} else {
		t.Logf("%s: Carol's answer on replica A reached the device on replica B %v after it was sent", sig, d.Round(time.Millisecond))
	}
	if st := call.State(); !st.GateOpen {
		t.Fatalf("both agreed remotely, one before and one after the restart, but the gate is closed: %+v", st)
	}
}
