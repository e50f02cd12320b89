package remote

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/sync/server/consentpage"
)

// BenchmarkAnswerReachesDevice measures one remote answer end to end on
// loopback: the participant's form post, the server's event stream, the
// device applying ParticipantAdded + ConsentRequested + AgeConfirmed +
// ConsentGiven to a consent session (a *consent.Session is a Call).
func BenchmarkAnswerReachesDevice(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	set, err := consent.NewLibrary(assets.Notices()).RenderSet(consent.DefaultNoticeID, "1",
		consent.OrgParams{Controller: "Acme BV", Contact: "privacy@acme.example"})
	if err != nil {
		b.Fatal(err)
	}
	h, err := consentpage.New(consentpage.Config{Auth: func(*http.Request) (string, error) { return "d", nil },
		PerIP: consentpage.Rate{Burst: 1 << 30, PerMinute: 1 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Token: "t"}
	form := url.Values{"decision": {"given"}, "age": {"yes"}, "name": {"Dee"}, "lang": {"en"}, "notice": {set.Texts["en"].SHA256}}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		sess, err := consent.NewSession(consent.Config{RecordingID: "bench", Notices: set, Signer: priv})
		if err != nil {
			b.Fatal(err)
		}
		got := make(chan error, 1)
		l, err := c.Open(context.Background(), sess, Request{RecordingID: "bench", Notices: set, OpenSlots: 1,
			OnAnswer: func(_ Answer, _ consent.State, err error) { got <- err }})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = l.Run(ctx); close(done) }()
		b.StartTimer()
		resp, err := noFollow.PostForm(l.CallURL, form)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if err := <-got; err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cancel()
		<-done
		_ = l.Close(context.Background())
	}
}
