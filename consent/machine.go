package consent

import (
	"fmt"
	"regexp"
	"sort"
)

// ConsentStatus is a participant's consent state (W3C DPV terms).
type ConsentStatus string

// Consent states.
const (
	StatusNone      ConsentStatus = ""
	StatusRequested ConsentStatus = "ConsentRequested"
	StatusGiven     ConsentStatus = "ConsentGiven"
	StatusRefused   ConsentStatus = "ConsentRefused"
	StatusWithdrawn ConsentStatus = "ConsentWithdrawn"
)

// Phase is where a session is, as the UI shows it.
type Phase string

// Phases.
const (
	PhaseSetup     Phase = "setup"     // recording not requested yet
	PhaseWaiting   Phase = "waiting"   // requested, gate closed until consent is complete
	PhaseRecording Phase = "recording" // gate open
	PhasePaused    Phase = "paused"    // paused by the host
	PhaseRefused   Phase = "refused"   // someone refused: nothing will be recorded
	PhaseStopped   Phase = "stopped"   // final
)

// ParticipantState is one participant as the session sees them.
type ParticipantState struct {
	ID           string
	Principal    Principal
	Present      bool
	Consent      ConsentStatus
	AgeConfirmed bool
	Method       Method     // of the last consent event
	Notice       *NoticeRef // notice accepted (set while Consent is Given)
}

// State is a snapshot of a session after an event.
type State struct {
	Seq          int   // events applied so far
	Offset       int64 // frames admitted so far
	GateOpen     bool
	Phase        Phase
	Participants []ParticipantState // in order of addition
	Waiting      []string           // ids of present participants who block the gate
	Last         EventType          // type of the last event
}

var partRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

type pstate struct {
	ParticipantState
}

// machine is the consent state machine shared by Session and Verify.
type machine struct {
	set       NoticeSetRef
	minAge    int
	parts     map[string]*pstate
	order     []string
	requested bool
	started   bool
	paused    bool
	refused   bool
	final     bool
	recovered bool
	segIndex  int   // index of the last SegmentSealed (0: none yet)
	segEnd    int64 // its end offset (where the next segment starts)
}

func newMachine(set NoticeSetRef, minAge int) *machine {
	return &machine{set: set, minAge: minAge, parts: map[string]*pstate{}}
}

func (m *machine) open() bool {
	if !m.requested || m.paused || m.refused || m.final {
		return false
	}
	n := 0
	for _, id := range m.order {
		p := m.parts[id]
		if !p.Present {
			continue
		}
		n++
		if p.Consent != StatusGiven || !p.AgeConfirmed {
			return false
		}
	}
	return n > 0
}

func (m *machine) blockers() []string {
	var out []string
	for _, id := range m.order {
		p := m.parts[id]
		if p.Present && (p.Consent != StatusGiven || !p.AgeConfirmed) {
			out = append(out, id)
		}
	}
	return out
}

func (m *machine) phase() Phase {
	switch {
	case m.final:
		return PhaseStopped
	case m.refused:
		return PhaseRefused
	case !m.requested:
		return PhaseSetup
	case m.paused:
		return PhasePaused
	case m.open():
		return PhaseRecording
	}
	return PhaseWaiting
}

func (m *machine) participants() []ParticipantState {
	out := make([]ParticipantState, 0, len(m.order))
	for _, id := range m.order {
		p := m.parts[id].ParticipantState
		if p.Notice != nil {
			n := *p.Notice
			p.Notice = &n
		}
		out = append(out, p)
	}
	return out
}

func terr(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrTransition}, a...)...)
}

func (m *machine) part(e *Event, mustBePresent bool) (*pstate, error) {
	p := m.parts[e.Participant]
	if p == nil {
		return nil, terr("%s for unknown participant %q; add the participant first", e.Type, e.Participant)
	}
	if mustBePresent && !p.Present {
		return nil, terr("%s for participant %q who is not present", e.Type, e.Participant)
	}
	return p, nil
}

func validMethod(m Method) bool {
	return m == OnScreen || m == Remote || m == VerbalAttested
}

func (m *machine) checkMethod(e *Event) error {
	if !validMethod(e.Method) {
		return terr("%s needs a method (on-screen, remote or verbal-attested), got %q", e.Type, e.Method)
	}
	if e.Method == VerbalAttested {
		h := m.parts[e.AttestedBy]
		if h == nil || !h.Present || e.AttestedBy == e.Participant {
			return terr("verbal consent of %q must be attested by another present participant (the host), got %q", e.Participant, e.AttestedBy)
		}
	} else if e.AttestedBy != "" {
		return terr("attestedBy is only for verbal-attested, method is %s", e.Method)
	}
	return nil
}

func (m *machine) checkNotice(e *Event, p *pstate) error {
	if e.Notice == nil {
		return terr("%s without the notice that was shown", e.Type)
	}
	want, ok := m.set.hash(e.Notice.Lang)
	if e.Notice.ID != m.set.ID || e.Notice.Version != m.set.Version || !ok || e.Notice.SHA256 != want {
		return fmt.Errorf("%w: %s of %q names notice %s/%s/%s %s, the session shows %s/%s", ErrNoticeMismatch,
			e.Type, p.ID, e.Notice.ID, e.Notice.Version, e.Notice.Lang, e.Notice.SHA256, m.set.ID, m.set.Version)
	}
	return nil
}

// apply validates e against the current state and applies it. It does not
// look at Seq, Time, Offset or hashes (the caller does).
func (m *machine) apply(e *Event) error {
	// After the close only the sealing of audio admitted before it may
	// follow, and a Recovered when the last segment of a stopped recording
	// was lost.
	if m.final && e.Type != SegmentSealed && (e.Type != Recovered || m.recovered) {
		return fmt.Errorf("%w: no event but SegmentSealed may follow %s", ErrFinal, map[bool]EventType{true: Recovered, false: RecordingStopped}[m.recovered])
	}
	if m.recovered && e.Type == SegmentSealed {
		return fmt.Errorf("%w: no event may follow Recovered", ErrFinal)
	}
	if e.Segment != nil && e.Type != SegmentSealed {
		return terr("%s takes no segment", e.Type)
	}
	isPart := false
	switch e.Type {
	case ParticipantAdded, ParticipantJoined, ParticipantLeft, ConsentRequested, ConsentGiven,
		ConsentRefused, ConsentWithdrawn, AgeConfirmed:
		isPart = true
		if !partRe.MatchString(e.Participant) {
			return terr("%s needs a participant id of 1–64 letters, digits, '-' or '_', got %q", e.Type, e.Participant)
		}
	default:
		if e.Participant != "" {
			return terr("%s takes no participant", e.Type)
		}
	}
	if e.Principal != nil && e.Type != ParticipantAdded {
		return terr("%s takes no principal", e.Type)
	}
	switch e.Type {
	case ParticipantAdded, ParticipantJoined, ParticipantLeft, RecordingRequested, RecordingStarted,
		RecordingPaused, RecordingResumed, RecordingStopped, Recovered, ConsentRequested, SegmentSealed:
		if e.Method != "" || e.AttestedBy != "" {
			return terr("%s takes no method", e.Type)
		}
	}
	if e.Type != AgeConfirmed && e.MinAge != 0 {
		return terr("%s takes no minimum age", e.Type)
	}
	switch e.Type {
	case ConsentRequested, ConsentGiven, ConsentRefused:
	default:
		if e.Notice != nil {
			return terr("%s takes no notice", e.Type)
		}
	}
	_ = isPart

	switch e.Type {
	case ParticipantAdded:
		if m.parts[e.Participant] != nil {
			return terr("participant %q was already added", e.Participant)
		}
		if e.Principal == nil || e.Principal.Name == "" {
			return terr("participant %q needs a name", e.Participant)
		}
		if _, ok := m.set.hash(e.Principal.Lang); !ok {
			return fmt.Errorf("%w: no notice text in language %q for participant %q; available: %v", ErrNoNotice, e.Principal.Lang, e.Participant, m.set.langs())
		}
		m.parts[e.Participant] = &pstate{ParticipantState{ID: e.Participant, Principal: *e.Principal, Present: true}}
		m.order = append(m.order, e.Participant)
	case ParticipantJoined:
		p, err := m.part(e, false)
		if err != nil {
			return err
		}
		if p.Present {
			return terr("participant %q joined but is already present", e.Participant)
		}
		p.Present = true
	case ParticipantLeft:
		p, err := m.part(e, true)
		if err != nil {
			return err
		}
		p.Present = false
	case ConsentRequested:
		p, err := m.part(e, true)
		if err != nil {
			return err
		}
		if err := m.checkNotice(e, p); err != nil {
			return err
		}
		if p.Consent == StatusNone {
			p.Consent = StatusRequested
		}
	case ConsentGiven:
		p, err := m.part(e, true)
		if err != nil {
			return err
		}
		if m.refused {
			return terr("consent was refused in this session, so nothing can be recorded; start a new session")
		}
		if p.Consent == StatusGiven {
			return terr("participant %q already gave consent", e.Participant)
		}
		if err := m.checkMethod(e); err != nil {
			return err
		}
		if err := m.checkNotice(e, p); err != nil {
			return err
		}
		p.Consent, p.Method = StatusGiven, e.Method
		n := *e.Notice
		p.Notice = &n
	case ConsentRefused:
		p, err := m.part(e, false)
		if err != nil {
			return err
		}
		if err := m.checkMethod(e); err != nil {
			return err
		}
		if err := m.checkNotice(e, p); err != nil {
			return err
		}
		p.Consent, p.Method, p.Notice = StatusRefused, e.Method, nil
		m.refused = true
	case ConsentWithdrawn:
		p, err := m.part(e, false)
		if err != nil {
			return err
		}
		if p.Consent != StatusGiven {
			return terr("participant %q withdrew consent they had not given", e.Participant)
		}
		if err := m.checkMethod(e); err != nil {
			return err
		}
		p.Consent, p.Method, p.Notice = StatusWithdrawn, e.Method, nil
	case AgeConfirmed:
		p, err := m.part(e, true)
		if err != nil {
			return err
		}
		if err := m.checkMethod(e); err != nil {
			return err
		}
		if e.MinAge != m.minAge {
			return terr("age confirmed for minimum age %d, the session requires %d", e.MinAge, m.minAge)
		}
		p.AgeConfirmed = true
	case RecordingRequested:
		if m.requested {
			return terr("recording was already requested")
		}
		m.requested = true
	case RecordingStarted:
		if m.started || !m.open() {
			return terr("RecordingStarted only marks the first opening of the gate")
		}
		m.started = true
	case RecordingPaused:
		if !m.requested || m.paused {
			return terr("pause needs a requested, unpaused recording")
		}
		m.paused = true
	case RecordingResumed:
		if !m.paused {
			return terr("resume needs a paused recording")
		}
		m.paused = false
	case RecordingStopped:
		m.final = true
	case Recovered:
		m.final, m.recovered = true, true
	case SegmentSealed:
		sg := e.Segment
		if sg == nil {
			return terr("SegmentSealed needs the segment it seals")
		}
		if sg.Index != m.segIndex+1 {
			return fmt.Errorf("%w: segment %d sealed where segment %d belongs (segments are numbered from 1 without gaps)", ErrOffset, sg.Index, m.segIndex+1)
		}
		if sg.Start != m.segEnd {
			return fmt.Errorf("%w: segment %d starts at %d, the previous one ended at %d", ErrOffset, sg.Index, sg.Start, m.segEnd)
		}
		if sg.End < sg.Start {
			return fmt.Errorf("%w: segment %d ends (%d) before it starts (%d)", ErrOffset, sg.Index, sg.End, sg.Start)
		}
		if sg.Size <= 0 || len(sg.SHA256) != 64 {
			return terr("segment %d needs its ciphertext's size and SHA-256", sg.Index)
		}
		m.segIndex, m.segEnd = sg.Index, sg.End
	default:
		return terr("unknown event type %q", e.Type)
	}
	return nil
}

// NoticeSetRef is the record header's description of the session's notice:
// one id and version, and the hash of the text in each language offered.
type NoticeSetRef struct {
	ID      string       `json:"id"`
	Version string       `json:"version"`
	Texts   []NoticeText `json:"texts"`
}

// NoticeText is one language of the record's notice and its hash.
type NoticeText struct {
	Lang   string `json:"lang"`
	SHA256 string `json:"sha256"`
}

func (s NoticeSetRef) hash(lang string) (string, bool) {
	for _, t := range s.Texts {
		if t.Lang == lang {
			return t.SHA256, true
		}
	}
	return "", false
}

func (s NoticeSetRef) langs() []string {
	out := make([]string, 0, len(s.Texts))
	for _, t := range s.Texts {
		out = append(out, t.Lang)
	}
	sort.Strings(out)
	return out
}
