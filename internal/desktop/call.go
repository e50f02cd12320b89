package desktop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	gosync "sync"
	"time"

	"github.com/assent-app/assent/app"
	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/workspace"
	"github.com/assent-app/assent/recording"
	"github.com/assent-app/assent/vault"
)

// NewCall implements app.Backend: it opens capture (levels work at once),
// creates the encrypted recording and registers the participants. Nothing
// is admitted into the recording until Start was called and everyone agreed.
func (b *Backend) NewCall(setup app.CallSetup) (app.Call, error) {
	v, err := b.vault()
	if err != nil {
		return nil, err
	}
	if len(setup.Participants) == 0 {
		return nil, errors.New("add at least one participant — everyone on the call, you included, must agree")
	}
	cfg := b.config()
	set, _, err := workspace.Notices(cfg)
	if err != nil {
		return nil, err
	}
	b.closeMeter() // the meter holds the device
	mic, callIn := cfg.CaptureInputs()
	cc := audio.CaptureConfig{Input: mic, CallInput: callIn}
	if len(setup.Devices) > 0 {
		if cc, err = captureFor(setup.Devices); err != nil { // devices.go
			return nil, err
		}
	}
	if err := noCallAudio(cfg, cc); err != nil { // devices.go
		return nil, err
	}
	var vparts []vault.Participant
	for _, p := range setup.Participants {
		vparts = append(vparts, vault.Participant{Name: p.Name, Email: p.Email})
	}
	title := strings.TrimSpace(setup.Title)
	if title == "" {
		title = "Call " + time.Now().Format("2006-01-02 15:04")
	}
	src, err := audio.OpenCapture(cc)
	if err != nil {
		return nil, err
	}
	w, err := v.Create(vault.NewRecording{Title: title, Participants: vparts})
	if err != nil {
		src.Close()
		return nil, err
	}
	c := &call{b: b, v: v, id: w.ID(), set: set, names: map[string]string{}, late: map[string]bool{}, links: map[string]app.ConsentLink{}}
	chime := cfg.Chime
	rc, err := recording.Start(recording.Config{RecordingID: w.ID(), Notices: set, Signer: v.Signer(), Source: src, Store: w,
		Cue: func(from, to consent.Phase) {
			if chime {
				c.cue(from, to)
			}
		}})
	if err != nil {
		src.Close()
		_ = w.Close()
		_ = v.Delete(w.ID())
		return nil, err
	}
	c.rc = rc
	for _, p := range setup.Participants {
		if _, err := c.add(p, false); err != nil {
			_ = c.Stop()
			return nil, err
		}
	}
	return c, nil
}

type call struct {
	b   *Backend
	v   *vault.Vault
	rc  *recording.Call
	id  string
	set *consent.NoticeSet

	mu       gosync.Mutex
	n        int
	names    map[string]string // participant id → name
	late     map[string]bool
	host     string
	reason   app.EndReason
	who      string
	ended    bool
	kept     bool
	started  bool
	chimes   recording.Chimes // used only from the Cue callback
	endErr   error
	chimeOut gosync.WaitGroup
	links    map[string]app.ConsentLink // remote consent links by participant id ("" = shared)
	spoke    bool                       // the spoken announcement was played
}

func (c *call) add(p app.ParticipantInfo, late bool) (string, error) {
	lang := p.Lang
	if c.set.Texts[lang] == nil {
		lang = "en"
	}
	c.mu.Lock()
	c.n++
	id := fmt.Sprintf("p%d", c.n)
	c.names[id] = p.Name
	c.late[id] = late
	if c.host == "" {
		c.host = id
	}
	c.mu.Unlock()
	if _, err := c.rc.Add(id, consent.Principal{Name: p.Name, Email: p.Email, Lang: lang}); err != nil {
		return "", err
	}
	if _, err := c.rc.Ask(id); err != nil {
		return "", err
	}
	return id, nil
}

// State implements app.Call.
func (c *call) State() app.CallState {
	st := c.rc.State()
	if st.Phase == consent.PhaseStopped || st.Phase == consent.PhaseRefused {
		// A remote refusal or withdrawal stopped the session on another
		// goroutine: finish the call (keep or discard what was recorded)
		// before reporting it ended. end is idempotent.
		c.mu.Lock()
		ended := c.ended
		c.mu.Unlock()
		if !ended {
			_ = c.end()
			st = c.rc.State()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cs := app.CallState{Recorded: time.Duration(st.Offset) * time.Second / audio.SampleRate, Levels: levels(c.rc.Meters()), Warning: silentSideWarning(c.rc.Meters()),
		Reason: c.reason, Who: c.who, Err: c.endErr}
	if c.kept {
		cs.RecordingID = c.id
	}
	held := false
	for _, p := range st.Participants {
		ap := app.Participant{ID: p.ID, ParticipantInfo: app.ParticipantInfo{Name: p.Principal.Name, Email: p.Principal.Email, Lang: p.Principal.Lang},
			Late: c.late[p.ID]}
		switch p.Consent {
		case consent.StatusGiven:
			ap.State = app.Given
		case consent.StatusRefused:
			ap.State = app.Refused
		case consent.StatusWithdrawn:
			ap.State = app.Withdrawn
		}
		switch p.Method {
		case consent.VerbalAttested:
			ap.Method = app.VerbalAttested
		case consent.OnScreen:
			ap.Method = app.OnScreen
		case consent.Remote:
			ap.Method = app.Remote
		}
		if p.Present && ap.State != app.Given && c.late[p.ID] {
			held = true
		}
		if p.Present {
			cs.Participants = append(cs.Participants, ap)
		}
	}
	switch {
	case c.ended || st.Phase == consent.PhaseStopped || st.Phase == consent.PhaseRefused:
		cs.Phase = app.PhaseEnded
	case st.Phase == consent.PhaseRecording:
		cs.Phase = app.PhaseRecording
	case st.Phase == consent.PhasePaused:
		cs.Phase = app.PhasePaused
	case held || (c.started && st.Phase == consent.PhaseWaiting):
		cs.Phase = app.PhaseHeld
	default:
		cs.Phase = app.PhaseAsking
	}
	if cs.Phase == app.PhaseEnded && cs.Reason == app.NotEnded {
		cs.Reason = app.StoppedByHost
		for _, p := range st.Participants { // ended by an answer given elsewhere (remote)
			switch p.Consent {
			case consent.StatusWithdrawn:
				cs.Reason, cs.Who = app.WithdrawnBy, p.Principal.Name
			case consent.StatusRefused:
				cs.Reason, cs.Who = app.RefusedBy, p.Principal.Name
			}
		}
	}
	select {
	case <-c.rc.Done():
		if err := c.rc.Err(); err != nil && cs.Err == nil {
			cs.Err, cs.Reason, cs.Phase = err, app.FailedReason, app.PhaseEnded
		}
	default:
	}
	return cs
}

func (c *call) attest(m app.Method) (consent.Method, string) {
	if m == app.VerbalAttested {
		c.mu.Lock()
		defer c.mu.Unlock()
		return consent.VerbalAttested, c.host
	}
	return consent.OnScreen, ""
}

// Decide implements app.Call.
func (c *call) Decide(id string, d app.Decision) error {
	m, by := c.attest(d.Method)
	var lang *consent.NoticeRef
	if d.Lang != "" {
		lang = &consent.NoticeRef{Lang: d.Lang}
	}
	if !d.Agree || !d.AgeConfirmed {
		reason := ""
		if d.Agree && !d.AgeConfirmed {
			reason = "below the minimum age"
		}
		c.mu.Lock()
		c.reason, c.who = app.RefusedBy, c.names[id]
		c.mu.Unlock()
		_, err := c.rc.Apply(consent.Event{Type: consent.ConsentRefused, Participant: id, Method: m, AttestedBy: by, Notice: lang, Reason: reason})
		c.end()
		return err
	}
	if d.Lang != "" {
		if _, err := c.rc.Apply(consent.Event{Type: consent.ConsentRequested, Participant: id, Notice: lang}); err != nil {
			return err
		}
	}
	if _, err := c.rc.Apply(consent.Event{Type: consent.AgeConfirmed, Participant: id, Method: m, AttestedBy: by}); err != nil {
		return err
	}
	_, err := c.rc.Apply(consent.Event{Type: consent.ConsentGiven, Participant: id, Method: m, AttestedBy: by, Notice: lang})
	return err
}

// Start implements app.Call.
func (c *call) Start() error {
	st := c.rc.State()
	var waiting []string
	c.mu.Lock()
	for _, id := range st.Waiting {
		waiting = append(waiting, c.names[id])
	}
	c.mu.Unlock()
	if len(waiting) > 0 {
		return fmt.Errorf("not everyone has agreed yet: waiting for %s", strings.Join(waiting, ", "))
	}
	if _, err := c.rc.RequestRecording(); err != nil {
		return err
	}
	c.mu.Lock()
	c.started = true
	c.mu.Unlock()
	return nil
}

// Join implements app.Call: the gate closes at once until they agree.
func (c *call) Join(p app.ParticipantInfo) (string, error) {
	if strings.TrimSpace(p.Name) == "" {
		return "", errors.New("type the name of the person who joined")
	}
	return c.add(p, true)
}

// Withdraw implements app.Call: the recording stops at once.
func (c *call) Withdraw(id string) error {
	c.mu.Lock()
	c.reason, c.who = app.WithdrawnBy, c.names[id]
	c.mu.Unlock()
	_, err := c.rc.Withdraw(id, consent.OnScreen, "")
	c.end()
	return err
}

// Pause implements app.Call.
func (c *call) Pause() error { _, err := c.rc.Pause(); return err }

// Resume implements app.Call.
func (c *call) Resume() error { _, err := c.rc.Resume(); return err }

// Stop implements app.Call.
func (c *call) Stop() error {
	c.mu.Lock()
	if c.reason == app.NotEnded {
		c.reason = app.StoppedByHost
	}
	c.mu.Unlock()
	return c.end()
}

// end stops capture once; a call that recorded nothing leaves nothing behind.
func (c *call) end() error {
	st, err := c.rc.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return c.endErr
	}
	c.ended = true
	if err != nil && !errors.Is(err, consent.ErrTransition) {
		c.endErr = err
	}
	if st.Offset == 0 {
		_ = c.v.Delete(c.id)
	} else {
		c.kept = true
		if c.b.sync != nil {
			c.b.sync.kick()
		}
	}
	return c.endErr
}

func (c *call) cue(from, to consent.Phase) {
	ch, ok := c.chimes.For(from, to)
	if !ok {
		return
	}
	speak := false
	if ch == audio.ChimeStart {
		c.mu.Lock()
		speak, c.spoke = !c.spoke, true
		c.mu.Unlock()
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = audio.PlayChime(ctx, ch)
		if speak {
			c.announce() // once per call, after the first start chime
		}
	}()
}
