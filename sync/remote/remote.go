// Package remote is the device side of remote consent: for a call being
// recorded, it asks the organisation's server (assentd, see
// sync/server/consentpage) for a consent link, receives the participants'
// answers live as server-sent events, and applies each one to the call as
// consent events with method "remote" and, as evidence, the SHA-256 of the
// participant's link token.
//
// It owns the mapping from answers to consent events: a named slot is a
// participant the host already added; a visitor of the open call URL
// becomes a new participant (ParticipantAdded) with the name they gave;
// "given" is AgeConfirmed + ConsentGiven, "refused" is ConsentRefused (the
// call ends with nothing recorded), "withdrawn" is ConsentWithdrawn (the
// recording stops at once).
//
// What it must never do:
//
//   - open the gate by itself: the consent session decides, and it opens only
//     when every present participant agreed — on-screen, verbally or here;
//   - apply an answer whose notice (id, version, language, SHA-256) is not
//     the one the call's session shows, or apply an answer twice after a
//     reconnect;
//   - be needed: without a server the app records with on-screen and verbal
//     consent, and an unreachable server only means no remote answers.
package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/sync/api"
	"github.com/assent-app/assent/sync/server/consentpage"
)

// Call is what answers are applied to; *recording.Call implements it.
type Call interface {
	Apply(e consent.Event) (consent.State, error)
	State() consent.State
}

// Client talks to assentd's consent-link API with the device token.
type Client struct {
	BaseURL string       // assentd's URL, e.g. https://assent.acme.example
	Token   string       // the device token from enrolment
	HTTP    *http.Client // nil: a client without overall timeout (the event stream is long-lived)
}

// Request describes the link to open for a call.
type Request struct {
	RecordingID string
	Notices     *consent.NoticeSet // the call's notice set (every language offered)
	// Participants are ids of participants already added to the call who
	// answer on their own device; each gets a personal link.
	Participants []string
	// OpenSlots is how many people may answer through the shared call URL,
	// giving their name (e.g. everyone in a meeting chat).
	OpenSlots int
	Expiry    time.Duration // 0: the server's default (3 h); at most 12 h
	// OnAnswer, if set, is called (on Run's goroutine) after each answer
	// with the call's state, or with why the answer was not applied.
	OnAnswer func(Answer, consent.State, error)
}

// Answer is one remote answer as applied to the call.
type Answer struct {
	consentpage.Answer
	Participant string // the call's participant id it was applied to
}

// Link is an open consent link of one call.
type Link struct {
	ID        string
	CallURL   string            // shared URL for open slots ("" if none)
	URLs      map[string]string // personal URL by participant id
	ExpiresAt time.Time

	c       *Client
	call    Call
	req     Request
	events  string
	refs    map[string]string // slot id → participant id (named slots)
	mu      sync.Mutex
	lastSeq int64
	added   map[string]bool // open-slot participants already added
}

// Errors of the API.
var (
	ErrServer   = errors.New("remote: the consent server refused the request")
	ErrLinkGone = errors.New("remote: the consent link no longer exists on the server")
)

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{}
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, hdr map[string]string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, rd)
	if err != nil {
		return nil, fmt.Errorf("remote: bad server URL %q: %w", c.BaseURL, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, fmt.Errorf("remote: cannot reach the consent server (%w); on-screen and verbal consent still work", err)
	}
	return resp, nil
}

// problemError turns a non-2xx answer into an error with the server's detail.
func problemError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if p := api.ParseProblem(resp.StatusCode, b); p.Detail != "" && p.Type != "" {
		return fmt.Errorf("%w (%d %s): %s", ErrServer, resp.StatusCode, p.Title, p.Detail)
	}
	return fmt.Errorf("%w: HTTP %d", ErrServer, resp.StatusCode)
}

// Open asks the server for a link for call. Each named participant gets
// a ConsentRequested event (the notice was sent to them) once the link
// exists.
func (c *Client) Open(ctx context.Context, call Call, req Request) (*Link, error) {
	if req.Notices == nil || len(req.Notices.Texts) == 0 {
		return nil, errors.New("remote: the request needs the call's notice set")
	}
	st := call.State()
	byID := map[string]consent.ParticipantState{}
	for _, p := range st.Participants {
		byID[p.ID] = p
	}
	body := consentpage.LinkRequest{RecordingID: req.RecordingID, Controller: req.Notices.Org.Controller,
		MinAge: req.Notices.Org.MinAge, OpenSlots: req.OpenSlots, ExpiresInSeconds: int(req.Expiry / time.Second),
		Notice: consentpage.Notice{ID: req.Notices.ID, Version: req.Notices.Version}}
	for _, l := range req.Notices.Langs() {
		n := req.Notices.Texts[l]
		body.Notice.Texts = append(body.Notice.Texts, consentpage.NoticeText{Lang: l, Text: n.Text, SHA256: n.SHA256})
	}
	for _, id := range req.Participants {
		p, ok := byID[id]
		if !ok || !p.Present {
			return nil, fmt.Errorf("remote: participant %q is not present in the call; add them first", id)
		}
		body.Slots = append(body.Slots, consentpage.Slot{Ref: id, Name: p.Principal.Name, Lang: p.Principal.Lang})
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, http.MethodPost, "/v1/consent-links", b, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return nil, problemError(resp)
	}
	var lr consentpage.LinkResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&lr); err != nil {
		return nil, fmt.Errorf("remote: the server's link response is not valid JSON: %w", err)
	}
	l := &Link{ID: lr.ID, CallURL: lr.CallURL, ExpiresAt: lr.ExpiresAt, URLs: map[string]string{}, c: c, call: call, req: req,
		events: "/v1/consent-links/" + lr.ID + "/events", refs: map[string]string{}, added: map[string]bool{}}
	for _, s := range lr.Slots {
		if _, ok := byID[s.Ref]; !ok {
			return nil, fmt.Errorf("%w: the link names participant %q that this call does not have", ErrServer, s.Ref)
		}
		l.URLs[s.Ref] = s.URL
		l.refs[s.Slot] = s.Ref
	}
	for _, id := range req.Participants {
		if l.URLs[id] == "" {
			return nil, fmt.Errorf("%w: the server returned no link for participant %q", ErrServer, id)
		}
		if _, err := call.Apply(consent.Event{Type: consent.ConsentRequested, Participant: id}); err != nil {
			return l, fmt.Errorf("remote: recording that the notice was sent to %q: %w", id, err)
		}
	}
	return l, nil
}

// Close tells the server the call ended: every page of the link says so
// and accepts nothing more.
func (l *Link) Close(ctx context.Context) error {
	resp, err := l.c.do(ctx, http.MethodDelete, "/v1/consent-links/"+l.ID, nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotFound {
		return problemError(resp)
	}
	return nil
}

// Run receives answers and applies them until the link ends (closed or
// expired: nil), ctx is done (ctx.Err()), or the server says the link is
// gone or the device is not authenticated. A dropped stream is resumed
// with Last-Event-ID, so no answer is lost or applied twice; an unreachable
// server, a 5xx or a 429 (a replica restarting, a proxy without a replica
// for a moment) is retried with a backoff that starts again at 250 ms
// after every stream the server accepted.
func (l *Link) Run(ctx context.Context) error {
	const first = 250 * time.Millisecond
	backoff := first
	for {
		ended, opened, err := l.stream(ctx)
		if ended {
			return nil
		}
		if opened {
			// The stream was open: a replica ending it (graceful shutdown)
			// or restarting is no reason to wait long before the next.
			backoff = first
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrLinkGone) || errors.Is(err, ErrServer) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// stream reads one event stream until it ends; opened reports whether the
// server accepted it (200) before it ended.
func (l *Link) stream(ctx context.Context) (ended, opened bool, err error) {
	l.mu.Lock()
	last := l.lastSeq
	l.mu.Unlock()
	hdr := map[string]string{"Accept": "text/event-stream"}
	if last > 0 {
		hdr["Last-Event-ID"] = strconv.FormatInt(last, 10)
	}
	resp, err := l.c.do(ctx, http.MethodGet, l.events, nil, hdr)
	if err != nil {
		return false, false, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return false, false, fmt.Errorf("%w: %v", ErrLinkGone, problemError(resp))
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		// A replica draining or restarting, or a proxy without a replica
		// for a moment: not the server refusing the link. Run retries.
		return false, false, fmt.Errorf("remote: the consent server is unavailable (HTTP %d); reconnecting", resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return false, false, problemError(resp)
	case !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"):
		return false, false, fmt.Errorf("%w: the event stream has content type %q", ErrServer, resp.Header.Get("Content-Type"))
	}
	err = ReadEvents(resp.Body, func(ev Event) error {
		switch ev.Type {
		case "answer":
			var a consentpage.Answer
			if err := json.Unmarshal([]byte(ev.Data), &a); err != nil {
				return fmt.Errorf("%w: an answer event is not valid JSON: %v", ErrServer, err)
			}
			l.handle(a)
		case "end":
			ended = true
			return io.EOF
		}
		return nil
	})
	if ended {
		return true, true, nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return false, true, err
}

// participantOf returns the call's participant id for a slot.
func (l *Link) participantOf(slot string) string {
	if id, ok := l.refs[slot]; ok {
		return id
	}
	id := "remote-" + slot + "-" + l.ID
	if len(id) > 64 {
		id = id[:64]
	}
	return id
}

func (l *Link) handle(a consentpage.Answer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a.Seq <= l.lastSeq {
		return // seen before a reconnect
	}
	l.lastSeq = a.Seq
	pid := l.participantOf(a.Slot)
	st, err := l.applyLocked(pid, a)
	if err != nil {
		st = l.call.State()
	}
	if l.req.OnAnswer != nil {
		l.req.OnAnswer(Answer{Answer: a, Participant: pid}, st, err)
	}
}

func (l *Link) applyLocked(pid string, a consentpage.Answer) (consent.State, error) {
	set := l.req.Notices
	n, ok := set.Texts[a.Notice.Lang]
	if !ok || a.Notice.ID != set.ID || a.Notice.Version != set.Version || a.Notice.SHA256 != n.SHA256 {
		return consent.State{}, fmt.Errorf("remote: answer for %s names notice %s v%s %s %.12s, which this call does not show; not applied",
			pid, a.Notice.ID, a.Notice.Version, a.Notice.Lang, a.Notice.SHA256)
	}
	ref := &consent.NoticeRef{ID: set.ID, Version: set.Version, Lang: a.Notice.Lang, SHA256: n.SHA256}
	ev := func(t consent.EventType) consent.Event {
		e := consent.Event{Type: t, Participant: pid, Method: consent.Remote, Evidence: a.Evidence}
		if t == consent.ConsentGiven || t == consent.ConsentRefused {
			e.Notice = ref
		}
		return e
	}
	_, named := l.refs[a.Slot]
	if !named && !l.added[pid] && a.Decision != consentpage.Withdrawn {
		name, err := consentpage.CleanName(a.Name)
		if err != nil {
			return consent.State{}, fmt.Errorf("remote: open-slot answer without a usable name: %v", err)
		}
		if _, err := l.call.Apply(consent.Event{Type: consent.ParticipantAdded, Participant: pid,
			Principal: &consent.Principal{Name: name, Lang: a.Notice.Lang}}); err != nil {
			return consent.State{}, err
		}
		l.added[pid] = true
		if _, err := l.call.Apply(consent.Event{Type: consent.ConsentRequested, Participant: pid, Notice: ref}); err != nil {
			return consent.State{}, err
		}
	}
	switch a.Decision {
	case consentpage.Given:
		if !a.AgeConfirmed {
			return consent.State{}, fmt.Errorf("remote: %s agreed without confirming their age; not applied", pid)
		}
		if _, err := l.call.Apply(ev(consent.AgeConfirmed)); err != nil {
			return consent.State{}, err
		}
		return l.call.Apply(ev(consent.ConsentGiven))
	case consentpage.Refused:
		return l.call.Apply(ev(consent.ConsentRefused))
	case consentpage.Withdrawn:
		return l.call.Apply(ev(consent.ConsentWithdrawn))
	}
	return consent.State{}, fmt.Errorf("remote: unknown decision %q; not applied", a.Decision)
}

// Event is one server-sent event.
type Event struct {
	ID, Type, Data string
}

// MaxEventLine bounds one line of an event stream.
const MaxEventLine = 1 << 20

// ReadEvents parses a text/event-stream (the WHATWG "server-sent events"
// format) from r and calls fn for each dispatched event, until r ends, a
// line is longer than MaxEventLine, or fn returns an error (returned as is;
// io.EOF from fn ends reading without error).
func ReadEvents(r io.Reader, fn func(Event) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var ev Event
	var data strings.Builder
	hasData := false
	first := true
	for {
		line, err := readLine(br)
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if first {
			line = strings.TrimPrefix(line, "\ufeff")
			first = false
		}
		if line == "" {
			if hasData {
				ev.Data = strings.TrimSuffix(data.String(), "\n")
				if ev.Type == "" {
					ev.Type = "message"
				}
				if err := fn(ev); err != nil {
					if err == io.EOF {
						return nil
					}
					return err
				}
			}
			ev.Type, ev.Data = "", ""
			data.Reset()
			hasData = false
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.Type = value
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
			hasData = true
			if data.Len() > MaxEventLine {
				return fmt.Errorf("%w: an event's data is longer than %d bytes", ErrServer, MaxEventLine)
			}
		case "id":
			if !strings.ContainsRune(value, 0) {
				ev.ID = value
			}
		}
	}
}

// readLine reads one line ending in \n, \r\n or \r.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			if err == io.EOF && len(b) > 0 {
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		switch c {
		case '\n':
			return string(b), nil
		case '\r':
			if n, err := br.Peek(1); err == nil && n[0] == '\n' {
				_, _ = br.ReadByte()
			}
			return string(b), nil
		}
		b = append(b, c)
		if len(b) > MaxEventLine {
			return "", fmt.Errorf("%w: an event stream line is longer than %d bytes", ErrServer, MaxEventLine)
		}
	}
}

// Follow applies answers (Run) until the call is over (done is closed),
// ctx ends, or the link ends; when the call is over it closes the link so
// every page says the call ended. It returns Run's error, or nil after a
// normal end.
func (l *Link) Follow(ctx context.Context, done <-chan struct{}) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- l.Run(rctx) }()
	select {
	case err := <-res:
		return err
	case <-done:
		cancel()
		<-res
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer ccancel()
		return l.Close(cctx)
	case <-ctx.Done():
		cancel()
		<-res
		return ctx.Err()
	}
}
