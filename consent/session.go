package consent

import (
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"sync"
	"time"
)

// Gate is the contract between consent and audio (docs/design.md).
type Gate interface {
	// Admit is called by the audio pipeline once per captured buffer of
	// `frames` frames (48 kHz, per channel) BEFORE anything is encoded.
	// It returns true iff the gate is open; only then does the recorded
	// stream offset advance by `frames`. Safe for concurrent use.
	Admit(frames int) bool
}

// Config describes a new session.
type Config struct {
	RecordingID      string           // required; the vault's id of the recording (1–128 of [A-Za-z0-9._-])
	RecordID         string           // optional; random if empty
	Notices          *NoticeSet       // required; the notice version shown, in every language offered
	Purposes         []string         // default: note-taking, coaching
	WithdrawalMethod string           // default: a sentence on how to withdraw
	Signer           crypto.Signer    // required; the device's Ed25519 key
	Now              func() time.Time // default time.Now
	// OpenDelay holds the gate shut for this long after an event opened it
	// (default 0). Live capture is read with some delay (the sound
	// server's and PortAudio's buffers, a busy machine): a buffer read just
	// after consent was given may have been captured just before. Dropping
	// what is read within OpenDelay of the opening keeps such sound out; it
	// never admits anything the gate would not.
	OpenDelay time.Duration
}

// DefaultPurposes are the purposes of a recording unless configured.
var DefaultPurposes = []string{"note-taking", "coaching"}

// DefaultWithdrawalMethod says how to withdraw unless configured.
const DefaultWithdrawalMethod = "Say \"stop recording\" or press Withdraw on the host's screen at any time; recording stops at once. Afterwards, write to the contact in the notice."

// Session is the consent state of one call. It implements [Gate].
type Session struct {
	mu     sync.Mutex
	m      *machine
	delay  time.Duration
	settle time.Time // Admit admits nothing before this (OpenDelay after the gate opened)
	opened time.Time // when the gate last opened
	rec    *Record
	offset int64
	signer crypto.Signer
	now    func() time.Time

	subMu sync.Mutex
	subs  map[int]*subscriber
	subID int
}

var recIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// NewSession starts a session with an empty record.
func NewSession(cfg Config) (*Session, error) {
	if !recIDRe.MatchString(cfg.RecordingID) {
		return nil, fmt.Errorf("%w: recording id %q must be 1–128 of letters, digits, '.', '_' or '-'", ErrBadConfig, cfg.RecordingID)
	}
	if cfg.Notices == nil || len(cfg.Notices.Texts) == 0 {
		return nil, fmt.Errorf("%w: no notice set; render one with Library.RenderSet", ErrBadConfig)
	}
	if err := cfg.Notices.Org.Validate(); err != nil {
		return nil, err
	}
	if cfg.Signer == nil {
		return nil, fmt.Errorf("%w: no device key; recording needs the device's signing key from the keyring", ErrBadConfig)
	}
	pub, err := ed25519Public(cfg.Signer)
	if err != nil {
		return nil, err
	}
	if cfg.RecordID == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("%w: no randomness for a record id: %v", ErrBadConfig, err)
		}
		cfg.RecordID = hex.EncodeToString(b[:])
	} else if !recIDRe.MatchString(cfg.RecordID) {
		return nil, fmt.Errorf("%w: record id %q must be 1–128 of letters, digits, '.', '_' or '-'", ErrBadConfig, cfg.RecordID)
	}
	if len(cfg.Purposes) == 0 {
		cfg.Purposes = cfg.Notices.Org.Purposes
	}
	if len(cfg.Purposes) == 0 {
		cfg.Purposes = DefaultPurposes
	}
	if cfg.WithdrawalMethod == "" {
		cfg.WithdrawalMethod = DefaultWithdrawalMethod
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	org := cfg.Notices.Org
	set := NoticeSetRef{ID: cfg.Notices.ID, Version: cfg.Notices.Version}
	for _, l := range cfg.Notices.Langs() {
		set.Texts = append(set.Texts, NoticeText{Lang: l, SHA256: cfg.Notices.Texts[l].SHA256})
	}
	r := &Record{
		Format:           Format,
		RecordID:         cfg.RecordID,
		RecordingID:      cfg.RecordingID,
		DeviceKeyID:      KeyID(pub),
		CreatedAt:        formatTime(cfg.Now()),
		Controller:       Party{Name: org.Controller, Contact: org.Contact},
		Jurisdiction:     org.Jurisdiction,
		Purposes:         append([]string(nil), cfg.Purposes...),
		RetentionMonths:  org.RetentionMonths,
		MinAge:           org.MinAge,
		WithdrawalMethod: cfg.WithdrawalMethod,
		Notice:           set,
		Facts:            factsOf(cfg.Notices),
		Events:           []Event{},
	}
	probe := r.clone()
	if err := probe.sign(cfg.Signer); err != nil {
		return nil, err
	}
	if err := validateRecord(probe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	if cfg.OpenDelay < 0 {
		return nil, fmt.Errorf("%w: negative open delay %s", ErrBadConfig, cfg.OpenDelay)
	}
	return &Session{m: newMachine(set, org.MinAge), rec: r, signer: cfg.Signer, now: cfg.Now, delay: cfg.OpenDelay,
		subs: map[int]*subscriber{}}, nil
}

// Admit implements [Gate]: it returns whether the gate is open and, if so,
// advances the stream offset by frames. frames ≤ 0 admits nothing.
func (s *Session) Admit(frames int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.m.open() {
		return false
	}
	if s.delay > 0 && s.now().Before(s.settle) {
		return false // read just after the gate opened: maybe captured before
	}
	if frames > 0 {
		s.offset += int64(frames)
	}
	return true
}

// AdmitAged is Admit for a buffer whose first sample was captured age ago
// (audio.AgedGate): it is admitted only if the gate was already open then —
// a buffer read after consent but captured before it is never recorded,
// however late it is read — and, as Admit, not within OpenDelay of the
// opening (the sound server's own latency, which the capture cannot see).
func (s *Session) AdmitAged(frames int, age time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.m.open() {
		return false
	}
	now := s.now()
	if s.delay > 0 && now.Before(s.settle) {
		return false
	}
	if now.Add(-age).Before(s.opened) {
		return false // captured before the gate opened
	}
	if frames > 0 {
		s.offset += int64(frames)
	}
	return true
}

// Apply validates e against the current state, stamps it (seq, time,
// offset, notice, minimum age, hashes) and appends it to the record. It
// returns the new state. Give Type and, as the type needs, Participant,
// Principal, Method, AttestedBy, Notice.Lang (to override the participant's
// language on consent events), Reason, Evidence. A rejected event changes
// nothing. When the gate opens for the first time the session appends
// RecordingStarted itself.
func (s *Session) Apply(in Event) (State, error) {
	s.mu.Lock()
	st, err := s.applyLocked(in)
	s.mu.Unlock()
	if err == nil {
		s.publish(st)
	}
	return st, err
}

func (s *Session) applyLocked(in Event) (State, error) {
	if in.Type == RecordingStarted || in.Type == Recovered {
		return s.stateLocked(), fmt.Errorf("%w: %s is appended by the session itself (RecordingStarted) or by Recover", ErrTransition, in.Type)
	}
	e := Event{Type: in.Type, Participant: in.Participant, Method: in.Method, AttestedBy: in.AttestedBy,
		Reason: in.Reason, Evidence: in.Evidence}
	if in.Principal != nil {
		p := *in.Principal
		e.Principal = &p
	}
	if in.Segment != nil {
		sg := *in.Segment
		if sg.End > s.offset {
			return s.stateLocked(), fmt.Errorf("%w: segment %d ends at %d, only %d frames were admitted", ErrOffset, sg.Index, sg.End, s.offset)
		}
		e.Segment = &sg
	}
	switch e.Type {
	case ConsentRequested, ConsentGiven, ConsentRefused:
		lang := ""
		if in.Notice != nil {
			lang = in.Notice.Lang
		}
		if p := s.m.parts[e.Participant]; p != nil && lang == "" {
			lang = p.Principal.Lang
		}
		if h, ok := s.m.set.hash(lang); ok {
			e.Notice = &NoticeRef{ID: s.m.set.ID, Version: s.m.set.Version, Lang: lang, SHA256: h}
		} else if s.m.parts[e.Participant] != nil {
			return s.stateLocked(), fmt.Errorf("%w: no notice text in language %q; available: %v", ErrNoNotice, lang, s.m.set.langs())
		}
	case AgeConfirmed:
		e.MinAge = s.m.minAge
	}
	wasStarted, wasOpen := s.m.started, s.m.open()
	if err := s.appendLocked(e); err != nil {
		return s.stateLocked(), err
	}
	if !wasOpen && s.m.open() {
		s.opened = s.now()
		s.settle = s.opened.Add(s.delay)
	}
	if !wasStarted && s.m.open() {
		if err := s.appendLocked(Event{Type: RecordingStarted}); err != nil {
			return s.stateLocked(), err
		}
	}
	return s.stateLocked(), nil
}

// appendLocked applies e to a copy of the machine first so that a rejected
// event leaves no trace.
func (s *Session) appendLocked(e Event) error {
	trial := s.m.copy()
	if err := trial.apply(&e); err != nil {
		return err
	}
	e.Seq = len(s.rec.Events)
	e.Offset = s.offset
	t := notBefore(s.now(), s.rec) // the wall clock may step back; the record stays monotonic
	e.Time = formatTime(t)
	e.Prev = s.rec.Head()
	e.Hash = EventHash(&e)
	s.rec.Events = append(s.rec.Events, e)
	s.m = trial
	return nil
}

func (m *machine) copy() *machine {
	c := *m
	c.parts = make(map[string]*pstate, len(m.parts))
	for k, v := range m.parts {
		p := *v
		c.parts[k] = &p
	}
	c.order = append([]string(nil), m.order...)
	return &c
}

func (s *Session) stateLocked() State {
	last := EventType("")
	if n := len(s.rec.Events); n > 0 {
		last = s.rec.Events[n-1].Type
	}
	return State{Seq: len(s.rec.Events), Offset: s.offset, GateOpen: s.m.open(), Phase: s.m.phase(),
		Participants: s.m.participants(), Waiting: s.m.blockers(), Last: last}
}

// State returns the current state.
func (s *Session) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stateLocked()
}

// Offset returns the number of frames admitted so far.
func (s *Session) Offset() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offset
}

// Record returns the record as signed JSON, ready to save. Call it after
// every event; after RecordingStopped it is the final record.
func (s *Session) Record() ([]byte, error) {
	s.mu.Lock()
	r := s.rec.clone()
	s.mu.Unlock()
	if err := r.sign(s.signer); err != nil {
		return nil, err
	}
	return r.Marshal()
}

// Subscribe calls fn with every new state, in order, on a goroutine of its
// own (never under the session lock; fn may call the session). The
// returned cancel stops delivery; states queued before cancel may be
// dropped. fn first receives the current state.
func (s *Session) Subscribe(fn func(State)) (cancel func()) {
	sub := &subscriber{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.subMu.Lock()
	s.subID++
	id := s.subID
	s.subs[id] = sub
	s.subMu.Unlock()
	go sub.run()
	sub.push(s.State())
	var once sync.Once
	return func() {
		once.Do(func() {
			s.subMu.Lock()
			delete(s.subs, id)
			s.subMu.Unlock()
			close(sub.done)
		})
	}
}

func (s *Session) publish(st State) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	for _, sub := range s.subs {
		sub.push(st)
	}
}

type subscriber struct {
	fn   func(State)
	mu   sync.Mutex
	q    []State
	last int
	wake chan struct{}
	done chan struct{}
}

func (sub *subscriber) push(st State) {
	sub.mu.Lock()
	sub.q = append(sub.q, st)
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

func (sub *subscriber) run() {
	for {
		select {
		case <-sub.done:
			return
		case <-sub.wake:
		}
		for {
			sub.mu.Lock()
			if len(sub.q) == 0 {
				sub.mu.Unlock()
				break
			}
			st := sub.q[0]
			sub.q = sub.q[1:]
			sub.mu.Unlock()
			select {
			case <-sub.done:
				return
			default:
			}
			// States published by concurrent Apply calls may arrive out of
			// order; deliver only newer ones.
			if st.Seq < sub.last {
				continue
			}
			sub.last = st.Seq
			sub.fn(st)
		}
	}
}

// notBefore returns t in UTC, or the record's latest time if t is earlier.
func notBefore(t time.Time, r *Record) time.Time {
	t = t.UTC()
	last := r.CreatedAt
	if n := len(r.Events); n > 0 {
		last = r.Events[n-1].Time
	}
	if l, err := parseTime(last); err == nil && t.Before(l) {
		return l
	}
	return t
}
