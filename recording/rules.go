package recording

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/assent-app/assent/consent"
)

// This file holds the rules of a call that both front ends (the desktop app
// and the command line) share: participant ids, joining and rejoining, the
// gate closing when someone joins, a participant's decision, withdrawal by
// name and why a call ended. The front ends only ask and show.

// ReasonJoining is the Reason of the RecordingPaused event appended when the
// host says someone joined, before anyone typed who it is.
const ReasonJoining = "someone joined; waiting for their consent"

// ReasonUnderAge is the Reason of a ConsentRefused event of a participant
// who agreed but could not confirm the minimum age.
const ReasonUnderAge = "below the minimum age"

// EndReason says why a call ended.
type EndReason int

// End reasons.
const (
	NotEnded EndReason = iota
	StoppedByHost
	RefusedBy   // Outcome.Who refused (or is below the minimum age)
	WithdrawnBy // Outcome.Who withdrew; capture stopped at once
	Failed      // capture or storage failed; see Call.Err
)

// Outcome is how a call ended.
type Outcome struct {
	Reason EndReason
	Who    string // name of the participant behind Reason
	// Kept is true once the call ended with audio stored; a call that
	// admitted nothing is discarded (Config.Discard).
	Kept bool
}

// Decision is one participant's answer to the notice.
type Decision struct {
	Agree        bool
	AgeConfirmed bool           // they confirmed the minimum age
	Method       consent.Method // on-screen, remote or verbal-attested
	// AttestedBy is the host's participant id for verbal consent; empty
	// means the call's host (the first participant added).
	AttestedBy string
	// Lang is the language of the notice they read or heard; empty means
	// their language as added.
	Lang string
}

// ErrOwnAttestation is returned when the host would attest their own
// verbal consent: the host answers on screen, and attests only for others.
var ErrOwnAttestation = errors.New("recording: the host cannot attest their own verbal consent; the host answers on screen")

// ErrAlreadyPresent is returned by Joined for someone who is on the call.
var ErrAlreadyPresent = errors.New("recording: already on the call")

// Begin starts a call (see Start) and adds people as its first participants
// (the first is the host). If anything fails the call is stopped and
// discarded (Config.Discard): nothing is left behind.
func Begin(cfg Config, people []consent.Principal) (*Call, []string, error) {
	if len(people) == 0 {
		return nil, nil, errors.New("recording: add at least one participant; everyone on the call, the host included, must agree")
	}
	c, err := Start(cfg)
	if err != nil {
		if cfg.Discard != nil {
			_ = cfg.Discard()
		}
		return nil, nil, err
	}
	ids := make([]string, 0, len(people))
	for _, p := range people {
		id, _, err := c.AddParticipant(p)
		if err != nil {
			_, _ = c.Stop()
			return nil, nil, err
		}
		ids = append(ids, id)
	}
	return c, ids, nil
}

// nextIDLocked returns an unused participant id p1, p2, …
func (c *Call) nextIDLocked(st consent.State) string {
	used := map[string]bool{}
	for _, p := range st.Participants {
		used[p.ID] = true
	}
	for {
		c.n++
		id := "p" + strconv.Itoa(c.n)
		if !used[id] {
			return id
		}
	}
}

// AddParticipant adds a new participant (present from now on; the gate is
// closed until they agreed) and returns their id. The first participant
// added is the host.
func (c *Call) AddParticipant(p consent.Principal) (string, consent.State, error) {
	c.op.Lock()
	defer c.op.Unlock()
	return c.addLocked(p)
}

func (c *Call) addLocked(p consent.Principal) (string, consent.State, error) {
	p.Name = strings.TrimSpace(p.Name)
	p.Email = strings.TrimSpace(p.Email)
	if p.Name == "" {
		return "", c.State(), errors.New("recording: a participant needs a name")
	}
	id := c.nextIDLocked(c.State())
	st, err := c.Add(id, p)
	if err != nil {
		return "", st, err
	}
	c.meta.Lock()
	if c.host == "" {
		c.host = id
	}
	c.meta.Unlock()
	return id, st, nil
}

// Host returns the participant id of the host ("" before anyone was added).
func (c *Call) Host() string {
	c.meta.Lock()
	defer c.meta.Unlock()
	return c.host
}

// HoldForJoin closes the gate at once because someone joined whose name is
// not known yet (the host is about to type it): a recording in progress is
// paused with [ReasonJoining]. Joined or CancelJoin end the hold. If the
// gate is already closed nothing is appended.
func (c *Call) HoldForJoin() (consent.State, error) {
	c.op.Lock()
	defer c.op.Unlock()
	st := c.State()
	if st.Phase != consent.PhaseRecording || c.joinHold {
		return st, nil
	}
	st, err := c.Apply(consent.Event{Type: consent.RecordingPaused, Reason: ReasonJoining})
	if err != nil {
		return st, err
	}
	c.joinHold = true
	return st, nil
}

// CancelJoin ends a HoldForJoin without anyone joining (the host closed the
// form): the recording resumes if the hold paused it.
func (c *Call) CancelJoin() (consent.State, error) {
	c.op.Lock()
	defer c.op.Unlock()
	return c.releaseHoldLocked()
}

func (c *Call) releaseHoldLocked() (consent.State, error) {
	if !c.joinHold {
		return c.State(), nil
	}
	c.joinHold = false
	if c.State().Phase != consent.PhasePaused {
		return c.State(), nil
	}
	return c.Resume()
}

// Joined records that p joined the call, closing the gate in the same
// action. Someone already listed (same e-mail, or same name when either has
// no e-mail) who had left is ParticipantJoined (their earlier answer
// stands); someone new is ParticipantAdded and blocks the gate until they
// agreed. A HoldForJoin is released after the participant is on the record,
// so the gate never opens in between. It returns the participant's id and
// whether they rejoined.
func (c *Call) Joined(p consent.Principal) (id string, rejoined bool, st consent.State, err error) {
	c.op.Lock()
	defer c.op.Unlock()
	p.Name, p.Email = strings.TrimSpace(p.Name), strings.TrimSpace(p.Email)
	if p.Name == "" {
		return "", false, c.State(), errors.New("recording: type the name of the person who joined")
	}
	if ex, ok := match(c.State().Participants, p); ok {
		if ex.Present {
			return ex.ID, false, c.State(), fmt.Errorf("%w: %s", ErrAlreadyPresent, ex.Principal.Name)
		}
		if st, err = c.Join(ex.ID); err != nil {
			return "", false, st, err
		}
		id, rejoined = ex.ID, true
	} else {
		if id, st, err = c.addLocked(p); err != nil {
			return "", false, st, err
		}
		c.meta.Lock()
		c.late[id] = true
		c.meta.Unlock()
	}
	st, err = c.releaseHoldLocked()
	return id, rejoined, st, err
}

// Late reports whether participant id joined after the call began.
func (c *Call) Late(id string) bool {
	c.meta.Lock()
	defer c.meta.Unlock()
	return c.late[id]
}

func match(ps []consent.ParticipantState, p consent.Principal) (consent.ParticipantState, bool) {
	for _, x := range ps {
		if p.Email != "" && x.Principal.Email != "" {
			if strings.EqualFold(p.Email, x.Principal.Email) {
				return x, true
			}
			continue
		}
		if strings.EqualFold(strings.Join(strings.Fields(p.Name), " "), strings.Join(strings.Fields(x.Principal.Name), " ")) {
			return x, true
		}
	}
	return consent.ParticipantState{}, false
}

// Decide applies participant id's answer: agreeing needs the age
// confirmation (otherwise it is a refusal "below the minimum age"); a
// refusal ends the call with nothing of them recorded. Verbal consent is
// attested by the host, never by the participant themself.
func (c *Call) Decide(id string, d Decision) (consent.State, error) {
	c.op.Lock()
	defer c.op.Unlock()
	if d.Method == "" {
		d.Method = consent.OnScreen
	}
	if d.Method == consent.VerbalAttested {
		if d.AttestedBy == "" {
			d.AttestedBy = c.Host()
		}
		if d.AttestedBy == id {
			return c.State(), ErrOwnAttestation
		}
	} else {
		d.AttestedBy = ""
	}
	name := c.name(id)
	var notice *consent.NoticeRef
	if d.Lang != "" {
		notice = &consent.NoticeRef{Lang: d.Lang}
	}
	if !d.Agree || !d.AgeConfirmed {
		reason := ""
		if d.Agree {
			reason = ReasonUnderAge
		}
		c.setOutcome(RefusedBy, name)
		st, err := c.Apply(consent.Event{Type: consent.ConsentRefused, Participant: id, Method: d.Method,
			AttestedBy: d.AttestedBy, Notice: notice, Reason: reason})
		if err != nil {
			c.clearOutcome(RefusedBy)
		}
		return st, err
	}
	if notice != nil {
		if _, err := c.Apply(consent.Event{Type: consent.ConsentRequested, Participant: id, Notice: notice}); err != nil {
			return c.State(), err
		}
	}
	if _, err := c.Apply(consent.Event{Type: consent.AgeConfirmed, Participant: id, Method: d.Method, AttestedBy: d.AttestedBy}); err != nil {
		return c.State(), err
	}
	return c.Apply(consent.Event{Type: consent.ConsentGiven, Participant: id, Method: d.Method, AttestedBy: d.AttestedBy, Notice: notice})
}

// WithdrawBy records participant id's withdrawal and stops the recording
// at once. method is how they said it (verbal withdrawals are attested by
// the host, or taken as on-screen when the host withdraws).
func (c *Call) WithdrawBy(id string, method consent.Method) (consent.State, error) {
	c.op.Lock()
	defer c.op.Unlock()
	by := ""
	if method == consent.VerbalAttested {
		by = c.Host()
		if by == id {
			method, by = consent.OnScreen, ""
		}
	}
	if method == "" {
		method = consent.OnScreen
	}
	c.setOutcome(WithdrawnBy, c.name(id))
	st, err := c.Withdraw(id, method, by)
	if err != nil && st.Phase != consent.PhaseStopped {
		c.clearOutcome(WithdrawnBy)
	}
	return st, err
}

func (c *Call) name(id string) string {
	for _, p := range c.State().Participants {
		if p.ID == id {
			return p.Principal.Name
		}
	}
	return ""
}

func (c *Call) setOutcome(r EndReason, who string) {
	c.meta.Lock()
	defer c.meta.Unlock()
	if c.outcome.Reason == NotEnded {
		c.outcome.Reason, c.outcome.Who = r, who
	}
}

func (c *Call) clearOutcome(r EndReason) {
	c.meta.Lock()
	defer c.meta.Unlock()
	if c.outcome.Reason == r && !c.ended {
		c.outcome = Outcome{}
	}
}

// Outcome reports how the call ended: Reason is NotEnded until Stop has
// finished (capture ended, the record final, an empty call discarded). It
// has no side effects. An end caused by an answer given elsewhere (a remote
// refusal or withdrawal, applied with Apply) is read from the session.
func (c *Call) Outcome() Outcome {
	st := c.State()
	c.meta.Lock()
	o := c.outcome
	ended := c.ended
	c.meta.Unlock()
	if !ended {
		return Outcome{}
	}
	if o.Reason == NotEnded {
		o.Reason = StoppedByHost
		for _, p := range st.Participants {
			switch p.Consent {
			case consent.StatusWithdrawn:
				o.Reason, o.Who = WithdrawnBy, p.Principal.Name
			case consent.StatusRefused:
				o.Reason, o.Who = RefusedBy, p.Principal.Name
			}
		}
	}
	if c.Err() != nil && o.Reason == StoppedByHost {
		o.Reason = Failed
	}
	return o
}

// Find looks a participant up the way a person names them: by their number
// in the list (1 = the first added), their id, their full name or their
// first name (case-insensitive). More than one match is an error listing
// them, so the caller can ask which one.
func (c *Call) Find(q string) (consent.ParticipantState, error) {
	q = strings.Join(strings.Fields(q), " ")
	ps := c.State().Participants
	if q == "" {
		return consent.ParticipantState{}, errors.New("say who: a number, a first name or a full name")
	}
	if n, err := strconv.Atoi(q); err == nil {
		if n >= 1 && n <= len(ps) {
			return ps[n-1], nil
		}
		return consent.ParticipantState{}, fmt.Errorf("there is no participant number %d; the list has 1–%d", n, len(ps))
	}
	for _, p := range ps {
		if p.ID == q || strings.EqualFold(strings.Join(strings.Fields(p.Principal.Name), " "), q) {
			return p, nil
		}
	}
	var hits []consent.ParticipantState
	for _, p := range ps {
		if f := strings.Fields(p.Principal.Name); len(f) > 0 && strings.EqualFold(f[0], q) {
			hits = append(hits, p)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return consent.ParticipantState{}, fmt.Errorf("nobody called %q is on the call", q)
	}
	var names []string
	for _, h := range hits {
		names = append(names, h.Principal.Name)
	}
	return consent.ParticipantState{}, &AmbiguousError{Query: q, Names: names}
}

// AmbiguousError is returned by Find when a first name fits several people.
type AmbiguousError struct {
	Query string
	Names []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%q could be %s; say which one (number or full name)", e.Query, strings.Join(e.Names, " or "))
}

// Holding reports whether a HoldForJoin is in effect.
func (c *Call) Holding() bool {
	c.op.Lock()
	defer c.op.Unlock()
	return c.joinHold
}

// StartAgreed asks for the recording once everyone present has agreed (the
// app's "Start recording", pressed after the last answer). Before then it
// refuses and names who is still to answer; nothing changes.
func (c *Call) StartAgreed() (consent.State, error) {
	st := c.State()
	var waiting []string
	for _, p := range st.Participants {
		for _, id := range st.Waiting {
			if p.ID == id {
				waiting = append(waiting, p.Principal.Name)
			}
		}
	}
	if len(waiting) > 0 {
		return st, fmt.Errorf("not everyone has agreed yet: waiting for %s", strings.Join(waiting, ", "))
	}
	return c.RequestRecording()
}
