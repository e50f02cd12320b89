package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/sync/server/consentpage"
)

func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestNoConsentNoAudio_RemoteGateOpensOnlyWhenAllAgreed(t *testing.T) {
	w := newWorld(t, nil)
	c := w.call
	must(t)(c.Add("ana", consent.Principal{Name: "Ana", Lang: "en"}))
	must(t)(c.Add("bob", consent.Principal{Name: "Bob", Lang: "nl"}))
	must(t)(c.RequestRecording())
	must(t)(c.Agree("ana", consent.OnScreen, ""))
	var mu sync.Mutex
	var seen []Answer
	l, err := w.client.Open(context.Background(), c, Request{RecordingID: "rec-remote-1", Notices: w.set,
		Participants: []string{"bob"}, OpenSlots: 1, OnAnswer: func(a Answer, _ consent.State, err error) {
			if err != nil {
				t.Errorf("answer %+v not applied: %v", a, err)
			}
			mu.Lock()
			seen = append(seen, a)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	stop := runLink(t, l)
	time.Sleep(100 * time.Millisecond)
	if s := c.Stats(); s.Admitted != 0 || c.State().GateOpen {
		t.Fatalf("gate open before Bob answered: %+v", s)
	}
	// Bob agrees on his phone, in Dutch.
	answer(t, l.URLs["bob"], url.Values{"decision": {"given"}, "age": {"yes"}, "lang": {"nl"}})
	waitFor(t, 2*time.Second, "the gate opening after Bob agreed remotely", func() bool { return c.State().GateOpen })
	waitFor(t, 10*time.Second, "audio being admitted", func() bool { return c.Stats().Admitted >= 9600 })
	// A late joiner from the meeting chat: the gate closes until they agreed,
	// then opens again.
	answer(t, l.CallURL, url.Values{"decision": {"given"}, "age": {"yes"}, "name": {"Dee"}})
	waitFor(t, 2*time.Second, "Dee being added and agreeing", func() bool {
		st := c.State()
		return len(st.Participants) == 3 && st.GateOpen
	})
	final, err := c.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	proof, err := consent.Verify(w.store.last(), w.pub)
	if err != nil {
		t.Fatalf("record does not verify: %v", err)
	}
	_ = proof
	rec, err := consent.Parse(w.store.last())
	if err != nil {
		t.Fatal(err)
	}
	var remote []consent.Event
	for _, e := range rec.Events {
		if e.Method == consent.Remote {
			remote = append(remote, e)
		}
	}
	// Bob: AgeConfirmed + ConsentGiven; Dee: the same.
	if len(remote) != 4 {
		t.Fatalf("%d remote events, want 4: %+v", len(remote), remote)
	}
	if remote[1].Type != consent.ConsentGiven || remote[1].Participant != "bob" || remote[1].Notice.Lang != "nl" ||
		remote[1].Notice.SHA256 != w.set.Texts["nl"].SHA256 || remote[1].Evidence != tokenHash(l.URLs["bob"]) {
		t.Fatalf("Bob's consent event %+v", remote[1])
	}
	if len(final.Participants) != 3 || final.Participants[2].Principal.Name != "Dee" || final.Participants[2].Method != consent.Remote {
		t.Fatalf("Dee %+v", final.Participants)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0].Participant != "bob" || seen[1].Name != "Dee" {
		t.Fatalf("OnAnswer saw %+v", seen)
	}
}

func TestNoConsentNoAudio_RemoteWithdrawalStopsWithinASecond(t *testing.T) {
	w := newWorld(t, nil)
	c := w.call
	must(t)(c.Add("ana", consent.Principal{Name: "Ana", Lang: "en"}))
	must(t)(c.Add("bob", consent.Principal{Name: "Bob", Lang: "en"}))
	must(t)(c.Agree("ana", consent.OnScreen, ""))
	must(t)(c.RequestRecording())
	l, err := w.client.Open(context.Background(), c, Request{RecordingID: "rec-remote-1", Notices: w.set, Participants: []string{"bob"}})
	if err != nil {
		t.Fatal(err)
	}
	stop := runLink(t, l)
	defer stop()
	answer(t, l.URLs["bob"], url.Values{"decision": {"given"}, "age": {"yes"}})
	waitFor(t, 2*time.Second, "the gate opening", func() bool { return c.State().GateOpen })
	waitFor(t, 10*time.Second, "audio being admitted", func() bool { return c.Stats().Admitted >= 4800 })
	start := time.Now()
	answer(t, l.URLs["bob"], url.Values{"decision": {"withdrawn"}})
	select {
	case <-c.Done():
	case <-time.After(time.Second):
		t.Fatal("the recording did not stop within a second of Bob withdrawing remotely")
	}
	took := time.Since(start)
	st := c.State()
	if st.GateOpen || st.Phase != consent.PhaseStopped {
		t.Fatalf("after withdrawal: %+v", st)
	}
	t.Logf("remote withdrawal → recording stopped in %v", took)
	rec, err := consent.Parse(w.store.last())
	if err != nil {
		t.Fatal(err)
	}
	var wd *consent.Event
	for i, e := range rec.Events {
		if e.Type == consent.ConsentWithdrawn {
			wd = &rec.Events[i]
		}
	}
	if wd == nil || wd.Method != consent.Remote || wd.Participant != "bob" || wd.Evidence != tokenHash(l.URLs["bob"]) {
		t.Fatalf("withdrawal event %+v", wd)
	}
	if _, err := consent.Verify(w.store.last(), w.pub); err != nil {
		t.Fatal(err)
	}
}

func TestNoConsentNoAudio_RemoteRefusalRecordsNothing(t *testing.T) {
	w := newWorld(t, nil)
	c := w.call
	must(t)(c.Add("ana", consent.Principal{Name: "Ana", Lang: "en"}))
	must(t)(c.Agree("ana", consent.OnScreen, ""))
	must(t)(c.RequestRecording())
	waitFor(t, 5*time.Second, "Ana alone being recorded", func() bool { return c.Stats().Admitted > 0 })
	l, err := w.client.Open(context.Background(), c, Request{RecordingID: "rec-remote-1", Notices: w.set, OpenSlots: 2})
	if err != nil {
		t.Fatal(err)
	}
	stop := runLink(t, l)
	defer stop()
	answer(t, l.CallURL, url.Values{"decision": {"refused"}, "name": {"Eve"}, "lang": {"de"}})
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("a remote refusal did not end the call")
	}
	st := c.State()
	if st.Phase != consent.PhaseStopped || len(st.Participants) != 2 || st.Participants[1].Consent != consent.StatusRefused {
		t.Fatalf("after refusal: %+v", st)
	}
}

// The stream is cut after every event; Run resumes with Last-Event-ID and
// applies each answer exactly once.
func TestRemoteResumeAppliesEachAnswerOnce(t *testing.T) {
	var mu sync.Mutex
	conns := 0
	w := newWorld(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/events") {
				mu.Lock()
				conns++
				mu.Unlock()
				ctx, cancel := context.WithTimeout(r.Context(), 150*time.Millisecond)
				defer cancel()
				r = r.WithContext(ctx)
			}
			h.ServeHTTP(rw, r)
		})
	})
	c := w.call
	must(t)(c.Add("ana", consent.Principal{Name: "Ana", Lang: "en"}))
	must(t)(c.Agree("ana", consent.OnScreen, ""))
	var amu sync.Mutex
	var errs []error
	applied := 0
	l, err := w.client.Open(context.Background(), c, Request{RecordingID: "rec-remote-1", Notices: w.set, OpenSlots: 3,
		OnAnswer: func(_ Answer, _ consent.State, err error) {
			amu.Lock()
			applied++
			if err != nil {
				errs = append(errs, err)
			}
			amu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	stop := runLink(t, l)
	defer stop()
	for i, n := range []string{"Dee", "Eve", "Fay"} {
		answer(t, l.CallURL, url.Values{"decision": {"given"}, "age": {"yes"}, "name": {n}})
		time.Sleep(time.Duration(100+i*120) * time.Millisecond)
	}
	waitFor(t, 5*time.Second, "three answers applied", func() bool { return len(c.State().Participants) == 4 })
	time.Sleep(600 * time.Millisecond) // several more reconnects
	amu.Lock()
	defer amu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	if applied != 3 || len(errs) != 0 || conns < 3 {
		t.Fatalf("applied %d answers (errors %v) over %d connections; want 3 over ≥ 3", applied, errs, conns)
	}
}

func TestRemoteAnswerForAnotherNoticeIsNotApplied(t *testing.T) {
	w := newWorld(t, nil)
	must(t)(w.call.Add("bob", consent.Principal{Name: "Bob", Lang: "en"}))
	l := &Link{ID: "x", call: w.call, req: Request{Notices: w.set}, refs: map[string]string{"s1": "bob"}, added: map[string]bool{}}
	var got error
	l.req.OnAnswer = func(_ Answer, _ consent.State, err error) { got = err }
	good := consentpage.NoticeRef{ID: w.set.ID, Version: w.set.Version, Lang: "en", SHA256: w.set.Texts["en"].SHA256}
	for _, n := range []consentpage.NoticeRef{
		{ID: good.ID, Version: good.Version, Lang: "en", SHA256: strings.Repeat("0", 64)},
		{ID: good.ID, Version: "2", Lang: "en", SHA256: good.SHA256},
		{ID: "other", Version: good.Version, Lang: "en", SHA256: good.SHA256},
		{ID: good.ID, Version: good.Version, Lang: "es", SHA256: good.SHA256},
	} {
		l.lastSeq = 0
		got = nil
		l.handle(consentpage.Answer{Seq: 1, Slot: "s1", Decision: consentpage.Given, AgeConfirmed: true, Notice: n})
		if got == nil || !strings.Contains(got.Error(), "does not show") {
			t.Fatalf("notice %+v: %v", n, got)
		}
	}
	l.lastSeq = 0
	l.handle(consentpage.Answer{Seq: 1, Slot: "s1", Decision: consentpage.Given, AgeConfirmed: false, Notice: good})
	if got == nil || !strings.Contains(got.Error(), "age") {
		t.Fatalf("no age: %v", got)
	}
	if p := w.call.State().Participants[0]; p.Consent == consent.StatusGiven || p.AgeConfirmed {
		t.Fatalf("a rejected answer changed the session: %+v", p)
	}
}

func TestBadInputGetsClearError_Remote(t *testing.T) {
	w := newWorld(t, nil)
	must(t)(w.call.Add("bob", consent.Principal{Name: "Bob", Lang: "en"}))
	ctx := context.Background()
	bad := &Client{BaseURL: w.srv.URL, Token: "wrong"}
	if _, err := bad.Open(ctx, w.call, Request{RecordingID: "r", Notices: w.set, OpenSlots: 1}); !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), "enrol") {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := w.client.Open(ctx, w.call, Request{RecordingID: "r", Notices: w.set, Participants: []string{"zed"}}); err == nil || !strings.Contains(err.Error(), "add them first") {
		t.Fatalf("unknown participant: %v", err)
	}
	if _, err := w.client.Open(ctx, w.call, Request{RecordingID: "r/../x", Notices: w.set, OpenSlots: 1}); !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), "recordingId") {
		t.Fatalf("bad recording id: %v", err)
	}
	if _, err := w.client.Open(ctx, w.call, Request{RecordingID: "r"}); err == nil || !strings.Contains(err.Error(), "notice set") {
		t.Fatalf("no notices: %v", err)
	}
	gone := &Link{ID: "nope", c: w.client, call: w.call, req: Request{Notices: w.set}, events: "/v1/consent-links/nope/events"}
	if err := gone.Run(ctx); !errors.Is(err, ErrLinkGone) {
		t.Fatalf("unknown link: %v", err)
	}
}

// Without a server, opening a link fails with a clear error and the call
// goes on with on-screen consent.
func TestWithoutServerOnScreenConsentStillWorks(t *testing.T) {
	w := newWorld(t, nil)
	w.srv.Close()
	c := w.call
	must(t)(c.Add("ana", consent.Principal{Name: "Ana", Lang: "en"}))
	_, err := w.client.Open(context.Background(), c, Request{RecordingID: "rec-remote-1", Notices: w.set, OpenSlots: 1})
	if err == nil || !strings.Contains(err.Error(), "on-screen and verbal consent still work") {
		t.Fatalf("open without a server: %v", err)
	}
	must(t)(c.Agree("ana", consent.OnScreen, ""))
	must(t)(c.RequestRecording())
	waitFor(t, 5*time.Second, "recording with on-screen consent", func() bool { return c.Stats().Admitted > 0 })
}

func TestReadEventsFollowsTheSpec(t *testing.T) {
	in := "\ufeff: comment\nretry: 1000\n\nid: 1\nevent: answer\ndata: {\"a\":\ndata: 1}\n\r\nid: 2\r\ndata:plain\r\rdata: x\nevent: end\n\ndata: unterminated"
	var got []Event
	err := ReadEvents(strings.NewReader(in), func(e Event) error { got = append(got, e); return nil })
	if !errors.Is(err, nil) && !strings.Contains(err.Error(), "EOF") {
		t.Fatal(err)
	}
	want := []Event{{ID: "1", Type: "answer", Data: "{\"a\":\n1}"}, {ID: "2", Type: "message", Data: "plain"}, {ID: "2", Type: "end", Data: "x"}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	long := "data: " + strings.Repeat("x", MaxEventLine+1) + "\n\n"
	if err := ReadEvents(strings.NewReader(long), func(Event) error { return nil }); err == nil {
		t.Fatal("an over-long line was accepted")
	}
}

// When the call ends, Follow closes the link: the participant's page says
// the call ended and takes no more answers.
func TestFollowClosesTheLinkWhenTheCallEnds(t *testing.T) {
	w := newWorld(t, nil)
	c := w.call
	must(t)(c.Add("ana", consent.Principal{Name: "Ana", Lang: "en"}))
	must(t)(c.Add("bob", consent.Principal{Name: "Bob", Lang: "en"}))
	l, err := w.client.Open(context.Background(), c, Request{RecordingID: "rec-remote-1", Notices: w.set, Participants: []string{"bob"}})
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() { res <- l.Follow(context.Background(), c.Done()) }()
	if _, err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		if err != nil {
			t.Fatalf("Follow: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return after the call ended")
	}
	resp, err := http.Get(l.URLs["bob"])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Fatalf("the page of an ended call answers %d, want 410", resp.StatusCode)
	}
}

// A replica draining or restarting, or a proxy with no replica for a moment,
// answers the event stream 503 / 502 / 429: Run keeps retrying (it is not the
// server refusing the link) and the answer given meanwhile arrives. A 401 is
// the server refusing the device: Run stops with ErrServer.
func TestRemoteRunRetriesUnavailableServer(t *testing.T) {
	var mu sync.Mutex
	refuse := []int{http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusTooManyRequests}
	streams := 0
	w := newWorld(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/events") {
				mu.Lock()
				streams++
				var code int
				if len(refuse) > 0 {
					code, refuse = refuse[0], refuse[1:]
				}
				mu.Unlock()
				if code != 0 {
					rw.WriteHeader(code)
					return
				}
			}
			h.ServeHTTP(rw, r)
		})
	})
	c := w.call
	must(t)(c.Add("bob", consent.Principal{Name: "Bob", Lang: "en"}))
	l, err := w.client.Open(context.Background(), c, Request{RecordingID: "rec-remote-1", Notices: w.set, Participants: []string{"bob"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	answer(t, l.URLs["bob"], url.Values{"decision": {"given"}, "age": {"yes"}})
	waitFor(t, 10*time.Second, "Bob's answer after three refused streams", func() bool {
		for _, p := range c.State().Participants {
			if p.ID == "bob" && p.Consent == consent.StatusGiven {
				return true
			}
		}
		return false
	})
	select {
	case err := <-done:
		t.Fatalf("Run stopped on a 5xx/429: %v", err)
	default:
	}
	mu.Lock()
	if streams < 4 {
		t.Errorf("%d stream requests; want the three refused ones and one more", streams)
	}
	refuse = []int{http.StatusUnauthorized}
	mu.Unlock()
	// The stream in progress is cut (a replica dies); the next one gets 401.
	w.srv.CloseClientConnections()
	select {
	case err := <-done:
		if !errors.Is(err, ErrServer) {
			t.Fatalf("Run after a 401: %v; want ErrServer", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run kept retrying a 401")
	}
}
