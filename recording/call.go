// Package recording is the glue of one call: it ties a consent.Session (the
// gate), an audio.Pipeline (capture → gate → Opus → Ogg) and a Store (the
// encrypted vault) together, for both the desktop app and the command line.
//
// It owns three guarantees that no single package can give alone:
//
//   - The consent record is saved synchronously after every event, before the
//     event's effect is reported to the caller, so a crash never loses a
//     consent record that the UI already showed.
//   - A withdrawal stops the recording (not merely pauses it): the gate closes
//     inside the session at once, then the pipeline is stopped and the
//     final record saved.
//   - A refusal ends the call with nothing recorded; the caller discards the
//     (audio-free) recording.
//
// Capture runs from Start so that level meters work while people read the
// notice, but the pipeline drops every buffer before the encoder until the
// session's gate is open (hard rule 1, see audio and consent).
package recording

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/consent"
)

// Store is where a call's audio and consent record go. vault's recording
// writer implements it.
type Store interface {
	audio.SegmentSink
	// SetRecord replaces the stored consent record atomically.
	SetRecord(recordJSON []byte) error
}

// NoticeStore is implemented by a Store that keeps the exact notice texts
// with the recording (vault's recording writer does): Start hands it every
// rendered text of the call's notice set before the first record is saved,
// so every text the record cites can be shown later.
type NoticeStore interface {
	StoreNotices(texts [][]byte) error
}

// Config describes a call.
type Config struct {
	RecordingID string             // the vault's id of the recording
	Notices     *consent.NoticeSet // the notice version shown, in every language offered
	Signer      crypto.Signer      // the device's Ed25519 key
	Source      audio.Source       // capture (PortAudio, or a PCM source in tests)
	Store       Store              // the encrypted vault
	Bitrate     int                // 0: 24 kbit/s mono, 32 kbit/s stereo
	// Cue, if set, is called (on its own goroutine, in order) when the
	// phase changes, so the caller can play the start / pause / stop chime.
	Cue func(from, to consent.Phase)
	// Discard, if set, removes the recording when the call ends having
	// admitted nothing (a refusal, or a stop before everyone agreed): no
	// audio-free recording is kept. Begin also calls it after a failed start.
	Discard func() error
	// OpenDelay is consent.Config.OpenDelay: sound read within this time
	// after the gate opened is dropped, because it may have been captured
	// before (0 = DefaultOpenDelay; negative = none, for sources that are
	// not live).
	OpenDelay time.Duration
	// PacketsPerPage and SealEvery tune the pipeline (0 = defaults: 1 s
	// pages, a sealed segment every 4 pages).
	PacketsPerPage, SealEvery int
}

// DefaultOpenDelay bounds how late live capture is read (sound server and
// PortAudio buffers, a busy machine): what is read this soon after the gate
// opened is dropped, so nothing said before the last consent is kept.
const DefaultOpenDelay = 300 * time.Millisecond

// Call is one call being recorded. All methods are safe for concurrent use.
type Call struct {
	cfg  Config
	sess *consent.Session
	pipe *audio.Pipeline

	mu      sync.Mutex // serialises Apply + SaveRecord so records are saved in order
	stopped bool

	done   chan struct{}
	runErr error
	cancel func()

	op       sync.Mutex // serialises the compound operations of rules.go
	n        int        // last participant number handed out
	joinHold bool       // HoldForJoin paused the recording

	meta    sync.Mutex // guards the fields below
	host    string
	late    map[string]bool
	outcome Outcome
	ended   bool
}

// ErrSaveRecord wraps a failure to store the consent record. The call is
// stopped when it happens: nothing is recorded without its record.
var ErrSaveRecord = errors.New("recording: the consent record could not be saved")

// Start opens a session and starts capture. The gate is closed until every
// participant has agreed and RequestRecording was called.
func Start(cfg Config) (*Call, error) {
	if cfg.Store == nil || cfg.Source == nil {
		return nil, errors.New("recording: a call needs a store and an audio source")
	}
	delay := cfg.OpenDelay
	switch {
	case delay == 0:
		delay = DefaultOpenDelay
	case delay < 0:
		delay = 0
	}
	sess, err := consent.NewSession(consent.Config{RecordingID: cfg.RecordingID, Notices: cfg.Notices, Signer: cfg.Signer, OpenDelay: delay})
	if err != nil {
		return nil, err
	}
	seals := newSealer(cfg.Store) // recovery branch: binds each sealed segment to the record (seal.go)
	pipe, err := audio.NewPipeline(audio.PipelineConfig{Source: cfg.Source, Gate: sess, Sink: seals,
		Bitrate: cfg.Bitrate, PacketsPerPage: cfg.PacketsPerPage, SealEvery: cfg.SealEvery})
	if err != nil {
		return nil, err
	}
	c := &Call{cfg: cfg, sess: sess, pipe: pipe, done: make(chan struct{}), late: map[string]bool{}}
	seals.bind(c) // recovery branch (seal.go)
	// The notice texts are stored before the first record cites them.
	if ns, ok := cfg.Store.(NoticeStore); ok && cfg.Notices != nil {
		var texts [][]byte
		for _, l := range cfg.Notices.Langs() {
			texts = append(texts, []byte(cfg.Notices.Texts[l].Text))
		}
		if err := ns.StoreNotices(texts); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSaveRecord, err)
		}
	}
	// The empty record is saved before any audio can exist.
	if err := c.saveLocked(); err != nil {
		return nil, err
	}
	if cfg.Cue != nil {
		prev := consent.PhaseSetup
		cancel := sess.Subscribe(func(st consent.State) {
			if st.Phase != prev {
				cfg.Cue(prev, st.Phase)
				prev = st.Phase
			}
		})
		c.cancel = cancel
	}
	go func() {
		err := pipe.Run(context.Background())
		c.mu.Lock()
		c.runErr = err
		c.mu.Unlock()
		close(c.done)
	}()
	return c, nil
}

// Session returns the consent session (read-only use: State, Subscribe).
func (c *Call) Session() *consent.Session { return c.sess }

// Meters returns the live input levels.
func (c *Call) Meters() *audio.Meters { return c.pipe.Meters() }

// Stats returns what the pipeline did so far.
func (c *Call) Stats() audio.Stats { return c.pipe.Stats() }

// State returns the session's current state.
func (c *Call) State() consent.State { return c.sess.State() }

// Done is closed when capture has ended (Stop, or a device/disk failure:
// see Err).
func (c *Call) Done() <-chan struct{} { return c.done }

// Err returns why capture ended, once Done is closed (nil after Stop).
func (c *Call) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runErr
}

func (c *Call) saveLocked() error {
	rec, err := c.sess.Record()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSaveRecord, err)
	}
	if err := c.cfg.Store.SetRecord(rec); err != nil {
		return fmt.Errorf("%w: %v", ErrSaveRecord, err)
	}
	return nil
}

// Apply applies one consent event and saves the record before returning.
// If the record cannot be saved the call is stopped and the error says so.
// A ConsentWithdrawn event stops the call (withdrawal stops the recording).
func (c *Call) Apply(e consent.Event) (consent.State, error) {
	c.mu.Lock()
	if c.stopped && e.Type != consent.RecordingStopped {
		c.mu.Unlock()
		return c.sess.State(), errors.New("recording: the call has ended; start a new one")
	}
	st, err := c.sess.Apply(e)
	if err != nil {
		c.mu.Unlock()
		return st, err
	}
	if serr := c.saveLocked(); serr != nil {
		c.mu.Unlock()
		_, _ = c.Stop()
		return c.sess.State(), serr
	}
	c.mu.Unlock()
	if e.Type == consent.ConsentWithdrawn || e.Type == consent.ConsentRefused {
		return c.Stop()
	}
	return st, nil
}

// Stop ends the call: RecordingStopped is appended (the gate closes), capture
// stops, the final record is saved and the last segment sealed. It returns
// the final state and the first error (device failure, disk full, record).
// Stop is idempotent.
func (c *Call) Stop() (consent.State, error) {
	c.mu.Lock()
	var firstErr error
	if !c.stopped {
		c.stopped = true
		if st := c.sess.State(); st.Phase != consent.PhaseStopped {
			if _, err := c.sess.Apply(consent.Event{Type: consent.RecordingStopped}); err != nil {
				firstErr = err
			}
		}
		// The final record is stored before the pipeline closes the sink, so
		// a recording never looks finished (to sync) with a non-final record.
		// The gate is closed now: the offset it records cannot grow.
		if err := c.saveLocked(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	c.mu.Unlock()
	c.pipe.Stop()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	// No second save here: the record was final before the sink closed and
	// nothing can change it after RecordingStopped.
	if c.runErr != nil && firstErr == nil {
		firstErr = c.runErr
	}
	if c.cancel != nil {
		c.cancel()
		c.cancel = nil
	}
	st := c.sess.State()
	c.meta.Lock()
	first := !c.ended
	c.ended = true
	if first {
		c.outcome.Kept = st.Offset > 0
	}
	c.meta.Unlock()
	if first && st.Offset == 0 && c.cfg.Discard != nil {
		// Nothing was admitted: keep no audio-free recording around.
		if err := c.cfg.Discard(); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("recording: nothing was recorded, but the empty recording could not be removed: %w", err)
		}
	}
	return st, firstErr
}

// Convenience wrappers for the events a host's UI produces.

// Add registers a participant (present from now on).
func (c *Call) Add(id string, p consent.Principal) (consent.State, error) {
	return c.Apply(consent.Event{Type: consent.ParticipantAdded, Participant: id, Principal: &p})
}

// Ask records that the notice was shown to a participant.
func (c *Call) Ask(id string) (consent.State, error) {
	return c.Apply(consent.Event{Type: consent.ConsentRequested, Participant: id})
}

// Agree records a participant's consent and age confirmation. attestedBy is
// the host's participant id for verbal consent, "" otherwise.
func (c *Call) Agree(id string, m consent.Method, attestedBy string) (consent.State, error) {
	if _, err := c.Apply(consent.Event{Type: consent.AgeConfirmed, Participant: id, Method: m, AttestedBy: attestedBy}); err != nil {
		return c.State(), err
	}
	return c.Apply(consent.Event{Type: consent.ConsentGiven, Participant: id, Method: m, AttestedBy: attestedBy})
}

// Refuse records a refusal; the call ends with nothing recorded.
func (c *Call) Refuse(id string, m consent.Method, attestedBy string) (consent.State, error) {
	return c.Apply(consent.Event{Type: consent.ConsentRefused, Participant: id, Method: m, AttestedBy: attestedBy})
}

// Withdraw records a withdrawal; the recording stops at once.
func (c *Call) Withdraw(id string, m consent.Method, attestedBy string) (consent.State, error) {
	return c.Apply(consent.Event{Type: consent.ConsentWithdrawn, Participant: id, Method: m, AttestedBy: attestedBy})
}

// Join marks a participant present again; a new participant is Add. Either
// closes the gate until they agreed.
func (c *Call) Join(id string) (consent.State, error) {
	return c.Apply(consent.Event{Type: consent.ParticipantJoined, Participant: id})
}

// Leave marks a participant absent.
func (c *Call) Leave(id string) (consent.State, error) {
	return c.Apply(consent.Event{Type: consent.ParticipantLeft, Participant: id})
}

// RequestRecording asks for the recording to start; it starts once everyone agreed.
func (c *Call) RequestRecording() (consent.State, error) {
	return c.Apply(consent.Event{Type: consent.RecordingRequested})
}

// Pause pauses the recording (the gate closes).
func (c *Call) Pause() (consent.State, error) {
	return c.Apply(consent.Event{Type: consent.RecordingPaused, Reason: "host paused"})
}

// Resume resumes a paused recording.
func (c *Call) Resume() (consent.State, error) {
	return c.Apply(consent.Event{Type: consent.RecordingResumed})
}
