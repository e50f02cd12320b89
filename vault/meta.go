package vault

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"filippo.io/age"
)

// Participant is a person on a recorded call.
type Participant struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
}

// SyncState is how far a recording got towards the organisation's server.
type SyncState string

const (
	SyncLocal     SyncState = "local"     // never uploaded
	SyncUploading SyncState = "uploading" // registered / partly uploaded
	SyncSynced    SyncState = "synced"    // the server confirmed the finalised recording
)

func (s SyncState) valid() bool { return s == SyncLocal || s == SyncUploading || s == SyncSynced }

// Summary is what the index holds about one recording: enough to list the
// library without decrypting every recording's metadata.
type Summary struct {
	ID           string        `json:"id"`
	Title        string        `json:"title"`
	Started      time.Time     `json:"started"`
	Duration     time.Duration `json:"duration_ns"`
	Participants []Participant `json:"participants"`
	Size         int64         `json:"size"` // bytes of sealed ciphertext
	Segments     int           `json:"segments"`
	Sync         SyncState     `json:"sync"`
	SyncedAt     time.Time     `json:"synced_at"`
	Recovered    bool          `json:"recovered"`
	InProgress   bool          `json:"in_progress"`
	StopReason   string        `json:"stop_reason,omitempty"`
}

// segMeta describes one sealed segment.
type segMeta struct {
	Index      int    `json:"index"`
	SHA256     string `json:"sha256"` // of the ciphertext file
	Size       int64  `json:"size"`   // of the ciphertext file
	EndGranule int64  `json:"end_granule"`
}

// meta is meta.json.age: everything the vault knows about a recording.
type meta struct {
	Format       int           `json:"format"`
	ID           string        `json:"id"`
	Title        string        `json:"title"`
	Participants []Participant `json:"participants"`
	Started      time.Time     `json:"started"`
	Ended        time.Time     `json:"ended"`
	State        string        `json:"state"` // "recording" or "closed"
	Recovered    bool          `json:"recovered"`
	StopReason   string        `json:"stop_reason,omitempty"`
	Channels     int           `json:"channels"`
	PreSkip      int           `json:"pre_skip"`
	Segments     []segMeta     `json:"segments"`
	Sync         SyncState     `json:"sync"`
	SyncedAt     time.Time     `json:"synced_at"`
}

const (
	stateRecording = "recording"
	stateClosed    = "closed"
)

// sealedSamples is the playable length at 48 kHz: last granule - pre-skip.
func (m *meta) sealedSamples() int64 {
	if len(m.Segments) == 0 {
		return 0
	}
	g := m.Segments[len(m.Segments)-1].EndGranule - int64(m.PreSkip)
	if g < 0 {
		return 0
	}
	return g
}

func (m *meta) summary() Summary {
	s := Summary{
		ID: m.ID, Title: m.Title, Started: m.Started, Participants: m.Participants,
		Segments: len(m.Segments), Sync: m.Sync, SyncedAt: m.SyncedAt, Recovered: m.Recovered,
		InProgress: m.State == stateRecording, StopReason: m.StopReason,
		Duration: time.Duration(m.sealedSamples()) * time.Second / 48000,
	}
	for _, sg := range m.Segments {
		s.Size += sg.Size
	}
	return s
}

func parseMeta(data []byte) (*meta, error) {
	var m meta
	if err := strictUnmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("metadata is not valid JSON: %v", err)
	}
	if m.Format != formatVersion {
		return nil, fmt.Errorf("metadata has format %d; this version reads format %d", m.Format, formatVersion)
	}
	if err := checkID(m.ID); err != nil {
		return nil, fmt.Errorf("metadata: %v", err)
	}
	if m.State != stateRecording && m.State != stateClosed {
		return nil, fmt.Errorf("metadata has unknown state %q", clip(m.State))
	}
	if !m.Sync.valid() {
		return nil, fmt.Errorf("metadata has unknown sync state %q", clip(string(m.Sync)))
	}
	if m.PreSkip < 0 || m.PreSkip > 65535 || m.Channels < 0 || m.Channels > 255 {
		return nil, errors.New("metadata has an out-of-range pre_skip or channel count")
	}
	var last int64 = -1
	for i, s := range m.Segments {
		if s.Index != i+1 {
			return nil, fmt.Errorf("metadata lists segment %d where segment %d belongs", s.Index, i+1)
		}
		if b, err := hex.DecodeString(s.SHA256); err != nil || len(b) != 32 {
			return nil, fmt.Errorf("metadata has a malformed sha256 for segment %d", s.Index)
		}
		if s.Size <= 0 {
			return nil, fmt.Errorf("metadata has a bad size for segment %d", s.Index)
		}
		if s.EndGranule < last {
			return nil, fmt.Errorf("metadata: granule positions go backwards at segment %d", s.Index)
		}
		last = s.EndGranule
	}
	return &m, nil
}

// encrypt seals data as one age file to the recipients.
func encrypt(data []byte, to ...age.Recipient) ([]byte, error) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, to...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decrypt opens an age file; what names the file in error messages.
func decrypt(ct []byte, id age.Identity, what string) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(ct), id)
	if err != nil {
		return nil, decryptErr(err, what)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, decryptErr(err, what)
	}
	return b, nil
}

// ErrDamaged is matched by errors about a stored file that is truncated,
// altered or otherwise unreadable.
var ErrDamaged = errors.New("a stored file is damaged")

func decryptErr(err error, what string) error {
	var nm *age.NoIdentityMatchError
	if errors.As(err, &nm) {
		return fmt.Errorf("vault: %s: %w: it was encrypted to another key; open it with the key it was made with (see `assent key export` on that device)", what, ErrWrongKey)
	}
	return fmt.Errorf("vault: %s: %w: it is truncated or altered and cannot be decrypted (%v)", what, ErrDamaged, err)
}
