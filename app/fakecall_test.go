package app

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/recording"
	"github.com/assent-app/assent/sync/remote"
)

// The fake's call is the real call: a recording.Call (the call rules the
// desktop backend and the command line share: participant ids, joining,
// the hold while the host types a name, decisions, withdrawal, why a call
// ended) over a real consent.Session bound to the shipped notices, with the
// real audio pipeline (capture → gate → Opus → Ogg). Only the ends are
// stand-ins: the capture is tickSource (one buffer of silence per Tick),
// the store is memStore, and the device key is a throwaway Ed25519 key.
// The fake keeps no consent state of its own: State, the library entry and
// the receipt are read from the session and its record.
//
// One difference from the desktop backend: there the first participant
// typed is the host, who attests other people's verbal consent. Here the
// host is the device's user, added to the session first as fakeHostName
// and agreeing on screen when the call is set up, and left out of State;
// every participant typed can then be given verbal consent attested by
// the host, as the consent screen offers.

// fakeHostName is the host (the device's user) in the fake's sessions.
const fakeHostName = "Host (this device)"

// fakeOrg is the organisation the fake's notices are rendered for.
var fakeOrg = consent.OrgParams{Controller: "Acme BV", Contact: "privacy@acme.example"}

// NewCall implements Backend.
func (f *FakeBackend) NewCall(s CallSetup) (Call, error) {
	f.mu.Lock()
	if err := f.takeFail(); err != nil {
		f.mu.Unlock()
		return nil, err
	}
	for _, c := range f.checks {
		if !c.OK {
			f.mu.Unlock()
			return nil, fmt.Errorf("cannot record: %s: %s %s", c.Name, c.Problem, c.Fix)
		}
	}
	settings := f.settings
	f.nextCall++
	n := f.nextCall
	f.mu.Unlock()
	if len(s.Participants) == 0 {
		return nil, errors.New("add at least one participant before asking for consent")
	}
	for _, p := range s.Participants {
		if strings.TrimSpace(p.Name) == "" {
			return nil, errors.New("every participant needs a name")
		}
	}
	org := fakeOrg
	org.MinAge = settings.MinimumAge
	org.RetentionMonths = max(1, settings.RetentionDays/30)
	set, err := consent.NewLibrary(assets.Notices()).RenderSet(consent.DefaultNoticeID, "2", org)
	if err != nil {
		return nil, err
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	c := &fakeCall{f: f, set: set, title: s.Title, levels: len(s.Devices), started: time.Now(),
		src: newTickSource(), store: &memStore{}}
	people := []consent.Principal{{Name: fakeHostName, Lang: "en"}}
	for _, p := range s.Participants {
		people = append(people, consent.Principal{Name: p.Name, Email: p.Email, Lang: c.noticeLang(p.Lang)})
	}
	rc, ids, err := recording.Begin(recording.Config{RecordingID: fmt.Sprintf("fake-call-%d", n), Notices: set,
		Signer: key, Source: c.src, Store: c.store, OpenDelay: -1, // tickSource is not live
		Cue: func(_, to consent.Phase) {
			if to == consent.PhaseStopped {
				c.src.poke()
			}
		}}, people)
	if err != nil {
		return nil, err
	}
	c.rc, c.host = rc, ids[0]
	fail := func(err error) (Call, error) {
		_, _ = rc.Stop()
		return nil, err
	}
	if _, err := rc.Decide(c.host, recording.Decision{Agree: true, AgeConfirmed: true, Method: consent.OnScreen}); err != nil {
		return fail(err)
	}
	for _, id := range ids[1:] {
		if _, err := rc.Ask(id); err != nil { // the notice is on screen from now on
			return fail(err)
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	return c, nil
}

// fakeCall adapts a recording.Call to the app's Call interface, as the
// desktop backend's call does.
type fakeCall struct {
	f       *FakeBackend
	rc      *recording.Call
	set     *consent.NoticeSet
	src     *tickSource
	store   *memStore
	host    string // participant id of the host (fakeHostName)
	title   string
	started time.Time // for the synthetic levels
	levels  int

	mu    sync.Mutex
	asked bool   // Start was called
	recID string // library id once kept
	done  bool   // the end was handled (library, receipt)
}

// noticeLang is lang if the notice exists in it, else English.
func (c *fakeCall) noticeLang(lang string) string {
	if c.set.Texts[lang] == nil {
		return "en"
	}
	return lang
}

// State implements Call from the session's state and the call's outcome.
func (c *fakeCall) State() CallState {
	st := c.rc.State()
	out := c.rc.Outcome()
	c.settle()
	cs := CallState{Recorded: time.Duration(st.Offset) * time.Second / audio.SampleRate, Who: out.Who}
	switch out.Reason {
	case recording.StoppedByHost:
		cs.Reason = StoppedByHost
	case recording.RefusedBy:
		cs.Reason = RefusedBy
	case recording.WithdrawnBy:
		cs.Reason = WithdrawnBy
	case recording.Failed:
		cs.Reason, cs.Err = FailedReason, c.rc.Err()
	}
	c.mu.Lock()
	asked, recID := c.asked, c.recID
	c.mu.Unlock()
	if out.Kept {
		cs.RecordingID = recID
	}
	held := false
	for _, p := range st.Participants {
		if p.ID == c.host || !p.Present {
			continue
		}
		ap := Participant{ID: p.ID, ParticipantInfo: ParticipantInfo{Name: p.Principal.Name, Email: p.Principal.Email, Lang: p.Principal.Lang},
			Method: p.Method, Late: c.rc.Late(p.ID)}
		if p.Notice != nil {
			ap.Lang = p.Notice.Lang // the notice they accepted
		}
		switch p.Consent {
		case consent.StatusGiven:
			ap.State = Given
		case consent.StatusRefused:
			ap.State = Refused
		case consent.StatusWithdrawn:
			ap.State = Withdrawn
		}
		if ap.State != Given && ap.Late {
			held = true
		}
		cs.Participants = append(cs.Participants, ap)
	}
	switch {
	case out.Reason != recording.NotEnded:
		cs.Phase = PhaseEnded
	case st.Phase == consent.PhaseRecording:
		cs.Phase = PhaseRecording
	case st.Phase == consent.PhasePaused && c.rc.Holding():
		// Not also st.Last == RecordingPaused, as internal/desktop asks: the
		// pipeline seals the segment when the gate closes, so SegmentSealed
		// follows the hold's RecordingPaused.
		cs.Phase = PhaseHeld
	case st.Phase == consent.PhasePaused:
		cs.Phase = PhasePaused
	case held || (asked && st.Phase == consent.PhaseWaiting):
		cs.Phase = PhaseHeld
	default:
		cs.Phase = PhaseAsking
	}
	if cs.Phase != PhaseEnded {
		m := fakeMeter{n: c.levels, start: c.started}
		cs.Levels = m.Levels()
	}
	return cs
}

// settle puts a call that ended into the library (if it admitted audio)
// with its consent record as the receipt, once.
func (c *fakeCall) settle() {
	out := c.rc.Outcome()
	if out.Reason == recording.NotEnded {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return
	}
	c.done = true
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.calls {
		if x == c {
			f.calls = append(f.calls[:i], f.calls[i+1:]...)
			break
		}
	}
	if !out.Kept {
		return // nothing was admitted: nothing is kept (recording.Config.Discard)
	}
	st := c.rc.State()
	var names []string
	for _, p := range st.Participants {
		if p.ID != c.host && (p.Consent == consent.StatusGiven || p.Consent == consent.StatusWithdrawn) {
			names = append(names, p.Principal.Name)
		}
	}
	c.recID = f.addLocked(Recording{Title: c.title, Started: c.started,
		Duration: time.Duration(st.Offset) * time.Second / audio.SampleRate, Participants: names, Size: c.store.size()})
	f.receipts[c.recID] = c.receipt()
}

// receipt renders the session's consent record as the fake's receipt.
func (c *fakeCall) receipt() string {
	var rec consent.Record
	if err := json.Unmarshal(c.store.record(), &rec); err != nil {
		return "Consent record of " + c.title + ": unreadable: " + err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Consent record of %s\n\n", c.title)
	for _, e := range rec.Events {
		fmt.Fprintf(&b, "%s  %s", e.Time, e.Type)
		if e.Participant != "" {
			fmt.Fprintf(&b, " by %s", e.Participant)
		}
		if e.Method != "" {
			fmt.Fprintf(&b, " (%s", e.Method)
			if e.Notice != nil {
				fmt.Fprintf(&b, ", %s", e.Notice.Lang)
			}
			b.WriteString(")")
		}
		fmt.Fprintf(&b, "  @%s\n", time.Duration(e.Offset)*time.Second/audio.SampleRate)
	}
	return b.String()
}

// FailCalls ends every call in progress with err, as a full disk or an
// unplugged device does: the capture fails, the call stops and what was
// admitted is kept.
func (f *FakeBackend) FailCalls(err error) {
	f.mu.Lock()
	calls := append([]*fakeCall(nil), f.calls...)
	f.mu.Unlock()
	for _, c := range calls {
		c.src.failWith(err)
		<-c.rc.Done()
		_, _ = c.rc.Stop()
		c.settle()
	}
}

// after settles the call once an operation may have ended it.
func (c *fakeCall) after(err error) error {
	c.settle()
	return err
}

func (c *fakeCall) Decide(id string, d Decision) error {
	_, err := c.rc.Decide(id, recording.Decision{Agree: d.Agree, AgeConfirmed: d.AgeConfirmed, Method: d.Method, Lang: d.Lang})
	return c.after(err)
}

func (c *fakeCall) Start() error {
	if _, err := c.rc.StartAgreed(); err != nil { // recording/rules.go: only once everyone agreed
		return err
	}
	c.mu.Lock()
	c.asked = true
	c.mu.Unlock()
	return nil
}

func (c *fakeCall) HoldForJoin() error { _, err := c.rc.HoldForJoin(); return err }

func (c *fakeCall) CancelJoin() error { _, err := c.rc.CancelJoin(); return err }

func (c *fakeCall) Join(p ParticipantInfo) (string, error) {
	if strings.TrimSpace(p.Name) == "" {
		return "", errors.New("type the name of the person who joined")
	}
	id, rejoined, _, err := c.rc.Joined(consent.Principal{Name: p.Name, Email: p.Email, Lang: c.noticeLang(p.Lang)})
	if err != nil {
		if errors.Is(err, recording.ErrAlreadyPresent) {
			return "", fmt.Errorf("%s is already on the call", strings.TrimSpace(p.Name))
		}
		return "", err
	}
	if !rejoined {
		if _, err := c.rc.Ask(id); err != nil {
			return "", err
		}
	}
	return id, nil
}

func (c *fakeCall) Withdraw(id string) error {
	_, err := c.rc.WithdrawBy(id, consent.OnScreen)
	return c.after(err)
}

func (c *fakeCall) Pause() error { _, err := c.rc.Pause(); return err }

func (c *fakeCall) Resume() error { _, err := c.rc.Resume(); return err }

func (c *fakeCall) Stop() error {
	_, err := c.rc.Stop()
	if err != nil && errors.Is(err, consent.ErrTransition) {
		err = nil
	}
	return c.after(err)
}

// ConsentLink implements Call like the real backend: it needs an enrolled
// server. The fake's participants answer "on their own device" through
// Decide with Method Remote (tests and demos do that).
func (c *fakeCall) ConsentLink(id string) (ConsentLink, error) {
	c.f.mu.Lock()
	st := c.f.sync
	c.f.mu.Unlock()
	if !st.Enrolled {
		return ConsentLink{}, errors.New("remote consent needs the organisation's server: enrol this device in Settings. On-screen and verbal consent work without it")
	}
	if c.rc.Outcome().Reason != recording.NotEnded {
		return ConsentLink{}, errors.New("this call has ended; start a new call")
	}
	if id != "" {
		found := false
		for _, p := range c.rc.State().Participants {
			found = found || (p.ID == id && id != c.host)
		}
		if !found {
			return ConsentLink{}, fmt.Errorf("no participant %s in this call", id)
		}
	}
	sum := sha256.Sum256([]byte(c.title + "/" + id))
	u := strings.TrimRight(st.ServerURL, "/") + "/c/" + hex.EncodeToString(sum[:16])
	qr, err := remote.QRCodePNG(u)
	if err != nil {
		return ConsentLink{}, err
	}
	return ConsentLink{URL: u, QR: qr, Expires: time.Now().Add(3 * time.Hour)}, nil
}

// tickSource is the fake's capture (an audio.Source): one buffer of
// silence per Tick. Read blocks until Tick offers a buffer; Tick returns
// once the pipeline has put that buffer through the gate (it asks for the
// next one), so tests count admitted audio exactly. Read ends the capture
// when the session has stopped and fails as an unplugged device does after
// failWith.
type tickSource struct {
	feed    chan struct{} // Tick → Read: one buffer
	asked   chan struct{} // Read → Tick: the previous buffer went through
	wake    chan struct{} // the call stopped or failed
	closed  chan struct{} // closed by Close (the pipeline ended)
	once    sync.Once
	pending bool // Read's goroutine only: a buffer was handed out

	mu      sync.Mutex
	fail    error
	stopped bool
}

func newTickSource() *tickSource {
	return &tickSource{feed: make(chan struct{}), asked: make(chan struct{}), wake: make(chan struct{}, 1),
		closed: make(chan struct{})}
}

// Channels implements audio.Source.
func (s *tickSource) Channels() int { return 1 }

// Start implements audio.Source.
func (s *tickSource) Start() error { return nil }

// Close implements audio.Source.
func (s *tickSource) Close() error { s.once.Do(func() { close(s.closed) }); return nil }

var errTickSourceClosed = errors.New("fake capture: closed")

// Read implements audio.Source.
func (s *tickSource) Read(buf []float32) error {
	if s.pending {
		s.pending = false
		select {
		case s.asked <- struct{}{}:
		case <-s.closed:
			return errTickSourceClosed
		}
	}
	for {
		s.mu.Lock()
		fail, stopped := s.fail, s.stopped
		s.mu.Unlock()
		switch {
		case fail != nil:
			return fail
		case stopped:
			return io.EOF
		}
		select {
		case <-s.feed:
			clear(buf)
			s.pending = true
			return nil
		case <-s.closed:
			return errTickSourceClosed
		case <-s.wake:
		case <-time.After(10 * time.Millisecond): // a stop whose cue was not delivered
		}
	}
}

// tick offers one buffer and waits until it went through the gate.
func (s *tickSource) tick() {
	select {
	case s.feed <- struct{}{}:
	case <-s.closed:
		return
	}
	select {
	case <-s.asked:
	case <-s.closed:
	}
}

// poke ends the capture: the session has stopped.
func (s *tickSource) poke() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.signal()
}

func (s *tickSource) failWith(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
	s.signal()
}

func (s *tickSource) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// memStore is the fake's recording.Store: pages and the consent record in
// memory.
type memStore struct {
	mu    sync.Mutex
	bytes int64
	rec   []byte
}

// WritePage implements audio.SegmentSink.
func (s *memStore) WritePage(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bytes += int64(len(p))
	return nil
}

// Seal implements audio.SegmentSink.
func (s *memStore) Seal() error { return nil }

// Close implements audio.SegmentSink.
func (s *memStore) Close() error { return nil }

// SetRecord implements recording.Store.
func (s *memStore) SetRecord(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec = append([]byte(nil), b...)
	return nil
}

func (s *memStore) size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

func (s *memStore) record() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec
}
