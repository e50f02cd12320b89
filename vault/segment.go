package vault

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/crashpoint"
)

// NewRecording describes a recording about to start.
type NewRecording struct {
	Title string
	// Participants is ignored: nothing personal reaches the disk before the
	// consent record that names it, so a recording's participant list is
	// derived from its consent record (the principals of its
	// ParticipantAdded events) each time the record is stored.
	//
	// Deprecated: put the participants into the consent record.
	Participants []Participant
	Started      time.Time // zero means now
	// Record is the initial consent record JSON (may be nil); later
	// versions are stored with [SegmentWriter.SetRecord].
	Record []byte
}

// SegmentWriter receives one recording's Ogg pages and stores them as sealed
// age-encrypted segments. It implements audio.SegmentSink. Its methods are
// safe for concurrent use, but pages must arrive in stream order.
type SegmentWriter struct {
	v   *Vault
	id  string // immutable
	dir string

	unlock func() // releases writer.lock

	// recMu serialises record saves (and the participant list derived from
	// them); it is never held while waiting for mu's holder to call out.
	recMu sync.Mutex
	// sealHook is called after a segment is durable on disk and before the
	// metadata lists it (see SetSealHook).
	sealHook func(consent.SegmentRef) error

	mu     sync.Mutex
	m      *meta
	info   pageInfo // over the whole stream so far
	cur    *openSegment
	err    error // sticky: set when the recording was stopped by a failure
	closed bool
}

type openSegment struct {
	n    int
	path string // the .part file
	f    *os.File
	h    hash.Hash
	size int64
	w    io.WriteCloser // age writer
	info pageInfo
}

func (s *openSegment) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	s.h.Write(p[:n])
	s.size += int64(n)
	crashpoint.Hit(crashpoint.SegmentWrite)
	return n, err
}

// Create starts a new recording and returns its writer. It needs only the
// public recipient(s); the directory, metadata and record are written and
// fsynced before it returns. The metadata written here holds no names: the
// participant list comes from the consent record (see [NewRecording]).
func (v *Vault) Create(r NewRecording) (*SegmentWriter, error) {
	if r.Started.IsZero() {
		r.Started = time.Now()
	}
	m := &meta{
		Format: formatVersion, ID: newID(r.Started), Title: r.Title,
		Participants: []Participant{},
		Started:      r.Started.UTC(), State: stateRecording, Sync: SyncLocal,
		PreSkip: 0, Channels: 0,
	}
	if r.Record != nil {
		m.Participants, _ = participantsOf(r.Record)
	}
	dir := v.recDir(m.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("vault: cannot create the recording directory: %w", diskErr("create recording", err))
	}
	fail := func(err error) (*SegmentWriter, error) {
		removeAll(dir)
		return nil, fmt.Errorf("vault: cannot start the recording: %w", err)
	}
	// Held while this process writes: another process's Open must not
	// "recover" a recording that is alive.
	unlock, held, err := tryLock(filepath.Join(dir, lockFile))
	if err != nil || held {
		return fail(fmt.Errorf("cannot lock the new recording (held=%v): %w", held, err))
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		unlock()
		return fail(err)
	}
	crashpoint.Hit(crashpoint.CreateDir)
	if r.Record != nil {
		if err := v.writeRecord(m.ID, r.Record); err != nil {
			unlock()
			return fail(err)
		}
	}
	if err := v.writeMeta(m); err != nil {
		unlock()
		return fail(err)
	}
	crashpoint.Hit(crashpoint.CreateMeta)
	if err := v.putSummary(m); err != nil {
		unlock()
		return fail(err)
	}
	crashpoint.Hit(crashpoint.CreateIndex)
	w := &SegmentWriter{v: v, id: m.ID, dir: dir, m: m, info: newPageInfo(), unlock: unlock}
	v.mu.Lock()
	v.live[m.ID] = w
	v.mu.Unlock()
	return w, nil
}

// SetSealHook sets a function called once per sealed segment, after the
// segment file is durable (fsynced, renamed, directory fsynced) and before
// the metadata lists it — that is, before [Vault.Segments] and
// [Vault.Unsynced] show it to the sync outbox. The recording package uses it
// to append SegmentSealed to the consent record. If the hook fails, the
// segment is removed again and the recording stops with the hook's error
// (audio the record does not list is not kept). The hook runs without the
// writer's lock held, so it may call [SegmentWriter.SetRecord]. Set it
// before the first page.
func (w *SegmentWriter) SetSealHook(hook func(consent.SegmentRef) error) {
	w.mu.Lock()
	w.sealHook = hook
	w.mu.Unlock()
}

// ID returns the recording id.
func (w *SegmentWriter) ID() string { return w.id }

// SealedSamples returns the length of the sealed audio so far, in samples
// per channel at 48 kHz (last sealed granule minus the Opus pre-skip).
func (w *SegmentWriter) SealedSamples() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m.sealedSamples()
}

// SetRecord atomically replaces the stored consent record (encrypted).
// When the record names participants the metadata and index do not list
// yet, they are updated after the record is durable: names never reach the
// disk before the consent record that names them.
func (w *SegmentWriter) SetRecord(record []byte) error {
	w.recMu.Lock()
	defer w.recMu.Unlock()
	if err := w.v.writeRecord(w.id, record); err != nil {
		return err
	}
	ps, ok := participantsOf(record)
	w.mu.Lock()
	defer w.mu.Unlock()
	if !ok || sameParticipants(ps, w.m.Participants) || w.closed {
		return nil
	}
	m := *w.m
	m.Participants = ps
	if err := w.v.writeMeta(&m); err != nil {
		return err
	}
	w.m = &m
	return w.v.putSummary(&m)
}

// WritePage appends one or more complete Ogg pages to the open segment,
// starting a new segment if none is open. Input that is not whole Ogg pages
// is refused with an error and nothing is written. If the disk is full the
// recording is stopped (sealed segments are kept) and the error matches
// [ErrDiskFull]; every later call returns the same error.
func (w *SegmentWriter) WritePage(page []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return fmt.Errorf("vault: recording %s is closed; start a new recording", w.m.ID)
	}
	info := w.info
	if err := scanPages(page, &info); err != nil {
		return fmt.Errorf("vault: WritePage got something that is not whole Ogg pages (%v); nothing was written", err)
	}
	if w.cur == nil {
		if err := w.startSegment(); err != nil {
			return w.fail(err)
		}
	}
	if _, err := w.cur.w.Write(page); err != nil {
		return w.fail(diskErr("write segment", err))
	}
	w.info = info
	w.cur.info = info
	return nil
}

func (w *SegmentWriter) startSegment() error {
	n := len(w.m.Segments) + 1
	seg := &openSegment{n: n, path: filepath.Join(w.dir, segName(n)+".part"), h: sha256.New()}
	f, err := os.OpenFile(seg.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return diskErr("create segment", err)
	}
	seg.f = f
	w.v.mu.Lock()
	to := w.v.keys.segmentRecipients()
	w.v.mu.Unlock()
	aw, err := age.Encrypt(seg, to...)
	if err != nil {
		f.Close()
		os.Remove(seg.path)
		return diskErr("create segment", err)
	}
	seg.w = aw
	w.cur = seg
	return nil
}

// Seal closes the open segment atomically: the age file is finished,
// fsynced, renamed from .part to .age and the directory fsynced; then the
// seal hook runs (see SetSealHook) and the metadata records the segment's
// hash, size and end granule. With no open segment it does nothing.
func (w *SegmentWriter) Seal() error {
	w.mu.Lock()
	if w.err != nil {
		defer w.mu.Unlock()
		return w.err
	}
	s, err := w.sealFileLocked()
	w.mu.Unlock()
	if err != nil || s == nil {
		return err
	}
	return w.publish(s)
}

// sealed is a segment that is durable on disk but not yet listed.
type sealed struct {
	seg  segMeta
	ref  consent.SegmentRef
	info pageInfo
}

// sealFileLocked makes the open segment durable under its final name.
func (w *SegmentWriter) sealFileLocked() (*sealed, error) {
	s := w.cur
	if s == nil {
		return nil, nil
	}
	err := s.w.Close()
	if err == nil {
		err = s.f.Sync()
	}
	if err == nil {
		crashpoint.Hit(crashpoint.SegmentFsync)
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	final := filepath.Join(w.dir, segName(s.n))
	if err == nil {
		err = rename(s.path, final)
	}
	if err == nil {
		crashpoint.Hit(crashpoint.SegmentRename)
		err = syncDir(w.dir)
	}
	if err != nil {
		return nil, w.fail(diskErr("seal segment", err))
	}
	crashpoint.Hit(crashpoint.SegmentDirSync)
	w.cur = nil
	preSkip := w.m.PreSkip
	if s.info.preSkip >= 0 {
		preSkip = s.info.preSkip
	}
	sg := segMeta{Index: s.n, SHA256: hex.EncodeToString(s.h.Sum(nil)), Size: s.size, EndGranule: s.info.granule}
	start := w.m.sealedSamples()
	end := max(sg.EndGranule-int64(preSkip), start)
	return &sealed{seg: sg, info: s.info, ref: consent.SegmentRef{Index: sg.Index, Start: start, End: end, SHA256: sg.SHA256, Size: sg.Size}}, nil
}

// publish runs the seal hook (without w.mu held), then lists the segment in
// the metadata.
func (w *SegmentWriter) publish(s *sealed) error {
	w.mu.Lock()
	hook := w.sealHook
	w.mu.Unlock()
	if hook != nil {
		if err := hook(s.ref); err != nil {
			w.mu.Lock()
			defer w.mu.Unlock()
			// Not bound to the consent record: not kept.
			os.Remove(filepath.Join(w.dir, segName(s.seg.Index)))
			syncDir(w.dir)
			if w.err != nil {
				return w.err
			}
			return w.fail(err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	m := *w.m
	m.Segments = append(append([]segMeta{}, w.m.Segments...), s.seg)
	if s.info.preSkip >= 0 {
		m.PreSkip, m.Channels = s.info.preSkip, s.info.channels
	}
	w.m = &m
	// The segment is durable and bound to the record; if the metadata write
	// fails, recovery at the next Open adopts the segment from disk.
	if err := w.v.writeMeta(w.m); err != nil {
		return w.fail(diskErr("update metadata", err))
	}
	return nil
}

// fail stops the recording after an error: the unsealed segment is
// discarded, sealed segments are kept, the recording is closed and every
// later call returns the returned error.
func (w *SegmentWriter) fail(cause error) error {
	if s := w.cur; s != nil {
		if s.f != nil {
			s.f.Close()
		}
		os.Remove(s.path)
		w.cur = nil
	}
	reason := "error"
	if errors.Is(cause, ErrDiskFull) {
		reason = "disk_full"
		// Free the reserve so the metadata and index can still be written.
		os.Remove(filepath.Join(w.v.root, reserveFile))
	}
	w.err = fmt.Errorf("vault: recording %s was stopped: %w; the %d sealed segment(s) (%s) are kept",
		w.m.ID, cause, len(w.m.Segments), time.Duration(w.m.sealedSamples())*time.Second/48000)
	w.finish(reason)
	return w.err
}

// finish marks the recording closed (best effort after a failure: if the
// metadata cannot be written, recovery closes it at the next Open).
func (w *SegmentWriter) finish(reason string) error {
	if w.closed {
		return nil
	}
	w.closed = true
	m := *w.m
	m.State, m.StopReason, m.Ended = stateClosed, reason, time.Now().UTC()
	w.m = &m
	err := w.v.writeMeta(w.m)
	// Closed on disk: the lock file goes before the index says closed, so a
	// crash in between leaves the index "in progress" and the next Open
	// reconciles (and removes a lock file left behind).
	if err == nil {
		os.Remove(filepath.Join(w.dir, lockFile))
	}
	// The in-memory index shows the truth even if the disk refused it.
	if ierr := w.v.putSummary(w.m); err == nil {
		err = ierr
	}
	w.v.mu.Lock()
	delete(w.v.live, w.m.ID)
	w.v.mu.Unlock()
	w.unlock()
	return err
}

// Close seals what is open and finishes the recording. After a failure it
// returns the failure.
func (w *SegmentWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return nil
	}
	st, err := w.sealFileLocked()
	if err != nil {
		return err
	}
	if st != nil {
		w.mu.Unlock()
		err := w.publish(st)
		w.mu.Lock()
		if err != nil {
			return err
		}
	}
	if w.closed {
		return w.err
	}
	if err := w.finish(""); err != nil {
		return fmt.Errorf("vault: recording %s is sealed but its metadata could not be updated: %w; it will be recovered at the next start", w.m.ID, diskErr("close", err))
	}
	return nil
}
