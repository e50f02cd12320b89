package app

import (
	"errors"
	"time"

	"github.com/assent-app/assent/consent"
)

// Backend is everything the UI needs from the rest of Assent. The UI holds
// no business logic: the backend decides whether the consent gate is open,
// what gets recorded, stored, synced and deleted. The real backend sits over
// consent/, audio/, vault/ and sync/ (internal/desktop); the tests use an
// honest in-memory stand-in (FakeBackend, in fake_test.go).
//
// Methods may be called from the UI goroutine and must not block for long;
// anything slow (playback, sync) runs in the backend's own goroutines.
// Checks is the exception: it may take seconds (keyring, sound server) and
// the UI always calls it off its goroutine.
type Backend interface {
	// Checks reports what the app needs to record (keyring, key, sound
	// server, input device), in the order they should be shown.
	Checks() []Check
	// Devices lists the audio input devices.
	Devices() ([]Device, error)
	// OpenMeter starts live level metering of the given input devices (no
	// audio is kept). Close the meter when the screen goes away.
	OpenMeter(deviceIDs []string) (Meter, error)
	// Languages lists the languages the consent notice exists in (BCP 47).
	Languages() []string
	// Notice returns the current consent notice rendered in one language
	// for this organisation.
	Notice(lang string) (Notice, error)
	// NewCall prepares a call: participants are added but nothing is
	// captured until Call.Start and every present participant agreed.
	NewCall(setup CallSetup) (Call, error)
	// Recordings lists the library, newest first.
	Recordings() ([]Recording, error)
	// Play opens a recording for playback.
	Play(id string) (Player, error)
	// Export writes a recording (decrypted audio + consent record) into
	// dir and returns the path of what it wrote.
	Export(id, dir string) (string, error)
	// Delete removes a recording locally and, if it was synced, queues
	// deletion of the server copy.
	Delete(id string) error
	// Receipt returns the human-readable consent record and receipts.
	Receipt(id string) (string, error)
	// Sync reports the server connection.
	Sync() SyncStatus
	// Enrol enrols this device with a server using a one-time code. The
	// code is a secret: it goes to the backend and is never stored by the UI.
	Enrol(serverURL, code string) error
	// Apply hands the backend the user's settings (after load and on change).
	Apply(s Settings) error
}

// Check is one first-run requirement.
type Check struct {
	Name    string // short, translated by the UI if it is a translation key
	OK      bool
	Problem string // what is wrong, in plain language
	Fix     string // what to do about it
}

// Device is an audio input device.
type Device struct {
	ID      string
	Name    string
	Default bool
	Call    bool // the other side of the call (what the computer plays), not a microphone
	// OnlyApp: a call source recording only a call application's sound
	// (App, or "" for the one using the microphone when the call starts),
	// not everything the computer plays.
	OnlyApp bool
	App     string
}

// Meter gives live input levels, one per metered device, 0..1 (peak, with
// decay applied by the backend).
type Meter interface {
	Levels() []float64
	Close() error
}

// Notice is one language version of the consent notice as rendered by
// consent.Library: identified by ID, Version, Lang and the SHA-256 of its
// exact text (a consent.NoticeRef), which the consent record cites.
type Notice struct {
	ID, Version, Lang string
	SHA256            string
	Title             string // shown as the heading; "" if Markdown starts with its own "# " title
	Markdown          string // the exact text shown to participants
	MinimumAge        int    // the organisation's minimum age (13–18); 0 = use Settings.MinimumAge
}

// Ref is the notice's reference as the consent record cites it.
func (n Notice) Ref() consent.NoticeRef {
	return consent.NoticeRef{ID: n.ID, Version: n.Version, Lang: n.Lang, SHA256: n.SHA256}
}

// Method is how consent was given; it is consent.Method.
type Method = consent.Method

// Consent methods the UI offers; Remote answers arrive through a ConsentLink.
const (
	OnScreen       = consent.OnScreen
	VerbalAttested = consent.VerbalAttested
	Remote         = consent.Remote
)

// ParticipantInfo is what the host types about a participant.
type ParticipantInfo struct {
	Name  string
	Email string // optional
	Lang  string // notice language, e.g. "en", "nl"
}

// CallSetup starts a call.
type CallSetup struct {
	Title        string
	Participants []ParticipantInfo
	Devices      []string // input device IDs
}

// Decision is one participant's answer to the notice.
type Decision struct {
	Agree        bool
	AgeConfirmed bool           // the participant confirmed they are at least Settings.MinimumAge
	Method       consent.Method // consent.OnScreen or consent.VerbalAttested (host attests)
	Lang         string         // language of the notice they read or heard
}

// ConsentState is a participant's consent status.
type ConsentState int

// Consent states.
const (
	Pending ConsentState = iota
	Given
	Refused
	Withdrawn
)

// Participant is a participant of a call with their consent status.
type Participant struct {
	ID string
	ParticipantInfo
	State  ConsentState
	Method consent.Method
	Late   bool // joined after the call started
	Host   bool // the host: answers on screen, never attests their own verbal consent
}

// Phase is where a call is.
type Phase int

// Call phases.
const (
	PhaseAsking    Phase = iota // waiting for everyone's answer, gate closed
	PhaseRecording              // gate open, audio admitted
	PhasePaused                 // paused by the host, gate closed
	PhaseHeld                   // someone joined and has not agreed yet, gate closed
	PhaseEnded                  // stopped, refused or withdrawn; see CallState.Reason
)

// EndReason says why a call ended.
type EndReason int

// End reasons.
const (
	NotEnded EndReason = iota
	StoppedByHost
	RefusedBy    // CallState.Who refused; nothing of them was recorded
	WithdrawnBy  // CallState.Who withdrew; capture stopped at once
	FailedReason // CallState.Err says what failed
)

// CallState is a snapshot of a call, polled by the recording screen.
type CallState struct {
	Phase        Phase
	Recorded     time.Duration // audio admitted through the gate so far
	Levels       []float64     // live input levels, one per device
	Participants []Participant
	Reason       EndReason
	Who          string // name of the participant behind Reason
	RecordingID  string // set once something was stored
	Err          error
	Warning      string // plain words about the capture, e.g. one side of the call silent; "" = fine
}

// Call is one call in progress.
type Call interface {
	State() CallState
	// Notice language switch and answers, per participant.
	Decide(participantID string, d Decision) error
	// Start requests recording; audio flows only while every present
	// participant has live consent. It fails if anyone has not agreed.
	Start() error
	// HoldForJoin closes the gate at once because someone joined: the UI
	// calls it before it asks who joined, so nothing is recorded while the
	// host types. Join or CancelJoin end the hold.
	HoldForJoin() error
	// CancelJoin ends a HoldForJoin when nobody is added after all.
	CancelJoin() error
	// Join adds a late joiner (or marks someone listed as back): the gate
	// stays closed until they agree.
	Join(p ParticipantInfo) (participantID string, err error)
	// Withdraw records a withdrawal and stops recording at once.
	Withdraw(participantID string) error
	Pause() error
	Resume() error
	// Stop ends the call and seals the recording (if anything was recorded).
	Stop() error
	// ConsentLink returns a link where participantID reads the notice and
	// answers on their own phone or laptop ("" = one shared link for anyone
	// on the call, who types their name); their answer arrives in State as
	// it is given (Method consent.Remote). It needs the organisation's
	// server; without one on-screen and verbal consent still work.
	ConsentLink(participantID string) (ConsentLink, error)
}

// ConsentLink is a remote consent link: URL to paste in the meeting chat,
// QR a PNG QR code of it, valid until Expires.
type ConsentLink struct {
	URL     string
	QR      []byte
	Expires time.Time
}

// SyncState is the server state of one recording.
type SyncState int

// Sync states.
const (
	LocalOnly SyncState = iota // not enrolled: stays on this laptop
	Queued
	Uploading
	Synced
	SyncFailed
	DeletePending // deleted here, server deletion still being propagated
)

// Recording is one library entry.
type Recording struct {
	ID           string
	Title        string
	Started      time.Time
	Duration     time.Duration
	Participants []string
	Size         int64 // bytes of ciphertext on disk
	Sync         SyncState
	Progress     float64 // 0..1 while Uploading
	Recovered    bool    // recovered after a crash
}

// Player plays one recording.
type Player interface {
	Play() error
	Pause() error
	Seek(to time.Duration) error
	Position() time.Duration
	Duration() time.Duration
	Playing() bool
	Close() error
}

// SyncStatus is the device's server connection.
type SyncStatus struct {
	Enrolled  bool
	ServerURL string
	Connected bool
	Pending   int // recordings or deletions waiting to be sent
	LastError string
}

// Settings are the user's preferences. They are stored with Fyne
// preferences; no secret is ever part of them.
type Settings struct {
	InputDevice   string
	CallDevice    string // optional second input (the call's audio)
	ServerURL     string
	RetentionDays int
	Chime         bool // play the notice chime when recording starts
	Beep          bool // periodic beep while recording
	MinimumAge    int  // 13..18
	OrgNotice     string
	Language      string // "" = system
}

// Validate reports settings the app cannot work with, in plain language.
func (s Settings) Validate() error {
	if s.MinimumAge < 13 || s.MinimumAge > 18 {
		return errors.New("the minimum age must be between 13 and 18")
	}
	if s.RetentionDays < 1 || s.RetentionDays > 3650 {
		return errors.New("retention must be between 1 and 3650 days")
	}
	return nil
}
