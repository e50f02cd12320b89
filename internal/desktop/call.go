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
	set, _, _, err := workspace.NoticesAt(cfg, b.cfgPath)
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
	var people []consent.Principal
	for _, p := range setup.Participants {
		vparts = append(vparts, vault.Participant{Name: p.Name, Email: p.Email})
		people = append(people, consent.Principal{Name: p.Name, Email: p.Email, Lang: noticeLang(set, p.Lang)})
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
	c := &call{b: b, v: v, id: w.ID(), set: set, links: map[string]app.ConsentLink{}}
	chime := cfg.Chime
	rc, ids, err := recording.Begin(recording.Config{RecordingID: w.ID(), Notices: set, Signer: v.Signer(), Source: src, Store: w,
		Discard: func() error { _ = w.Close(); return v.Delete(w.ID()) },
		Cue: func(from, to consent.Phase) {
			if chime {
				c.cue(from, to)
			}
		}}, people)
	if err != nil {
		src.Close()
		return nil, err
	}
	c.rc = rc
	for _, id := range ids {
		if _, err := rc.Ask(id); err != nil { // the notice is on screen from now on
			_, _ = rc.Stop()
			return nil, err
		}
	}
	return c, nil
}

// noticeLang is lang if the notice exists in it, else English.
func noticeLang(set *consent.NoticeSet, lang string) string {
	if set.Texts[lang] == nil {
		return "en"
	}
	return lang
}

// call adapts a recording.Call (which owns every rule of the call) to the
// app's Call interface.
type call struct {
	b   *Backend
	v   *vault.Vault
	rc  *recording.Call
	id  string
	set *consent.NoticeSet

	mu      gosync.Mutex
	started bool
	chimes  recording.Chimes           // used only from the Cue callback
	links   map[string]app.ConsentLink // remote consent links by participant id ("" = shared)
	spoke   bool                       // the spoken announcement was played
	kicked  bool                       // sync was told about the kept recording
}

// State implements app.Call. It only reads: a call ended elsewhere (a
// remote refusal or withdrawal) was finished by recording.Call itself.
func (c *call) State() app.CallState {
	st := c.rc.State()
	out := c.rc.Outcome()
	cs := app.CallState{Recorded: time.Duration(st.Offset) * time.Second / audio.SampleRate, Levels: levels(c.rc.Meters()),
		Warning: silentSideWarning(c.rc.Meters()), Who: out.Who}
	switch out.Reason {
	case recording.StoppedByHost:
		cs.Reason = app.StoppedByHost
	case recording.RefusedBy:
		cs.Reason = app.RefusedBy
	case recording.WithdrawnBy:
		cs.Reason = app.WithdrawnBy
	case recording.Failed:
		cs.Reason, cs.Err = app.FailedReason, c.rc.Err()
	}
	if out.Kept {
		cs.RecordingID = c.id
		c.kick()
	}
	c.mu.Lock()
	started := c.started
	c.mu.Unlock()
	held := false
	for _, p := range st.Participants {
		ap := app.Participant{ID: p.ID, ParticipantInfo: app.ParticipantInfo{Name: p.Principal.Name, Email: p.Principal.Email, Lang: p.Principal.Lang},
			Late: c.rc.Late(p.ID), Host: p.ID == c.rc.Host()}
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
		if p.Present && ap.State != app.Given && ap.Late {
			held = true
		}
		if p.Present {
			cs.Participants = append(cs.Participants, ap)
		}
	}
	switch {
	case out.Reason != recording.NotEnded:
		cs.Phase = app.PhaseEnded
	case st.Phase == consent.PhaseRecording:
		cs.Phase = app.PhaseRecording
	case st.Phase == consent.PhasePaused && c.rc.Holding(): // not st.Last: a segment is sealed (SegmentSealed) right after the pause
		cs.Phase = app.PhaseHeld
	case st.Phase == consent.PhasePaused:
		cs.Phase = app.PhasePaused
	case held || (started && st.Phase == consent.PhaseWaiting):
		cs.Phase = app.PhaseHeld
	default:
		cs.Phase = app.PhaseAsking
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

// kick tells sync once that a recording was kept.
func (c *call) kick() {
	c.mu.Lock()
	first := !c.kicked
	c.kicked = true
	c.mu.Unlock()
	if first && c.b.sync != nil {
		c.b.sync.kick()
	}
}

// Decide implements app.Call.
func (c *call) Decide(id string, d app.Decision) error {
	_, err := c.rc.Decide(id, recording.Decision{Agree: d.Agree, AgeConfirmed: d.AgeConfirmed, Method: d.Method, Lang: d.Lang})
	return err
}

// Start implements app.Call.
func (c *call) Start() error {
	if _, err := c.rc.StartAgreed(); err != nil { // recording/rules.go: only once everyone agreed
		return err
	}
	c.mu.Lock()
	c.started = true
	c.mu.Unlock()
	return nil
}

// HoldForJoin implements app.Call: "Someone joined" closes the gate before
// the host is asked who it is.
func (c *call) HoldForJoin() error { _, err := c.rc.HoldForJoin(); return err }

// CancelJoin implements app.Call: the host closed the form without a name.
func (c *call) CancelJoin() error { _, err := c.rc.CancelJoin(); return err }

// Join implements app.Call: the gate is closed (it already was after
// HoldForJoin) until they agree; the notice is shown to them next.
func (c *call) Join(p app.ParticipantInfo) (string, error) {
	if strings.TrimSpace(p.Name) == "" {
		return "", errors.New("type the name of the person who joined")
	}
	id, rejoined, _, err := c.rc.Joined(consent.Principal{Name: p.Name, Email: p.Email, Lang: noticeLang(c.set, p.Lang)})
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

// Withdraw implements app.Call: the recording stops at once.
func (c *call) Withdraw(id string) error {
	_, err := c.rc.WithdrawBy(id, consent.OnScreen)
	return err
}

// Pause implements app.Call.
func (c *call) Pause() error { _, err := c.rc.Pause(); return err }

// Resume implements app.Call.
func (c *call) Resume() error { _, err := c.rc.Resume(); return err }

// Stop implements app.Call.
func (c *call) Stop() error {
	_, err := c.rc.Stop()
	if err != nil && errors.Is(err, consent.ErrTransition) {
		err = nil
	}
	return err
}

// end finishes the call (used when a remote answer ended it).
func (c *call) end() error { return c.Stop() }

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
