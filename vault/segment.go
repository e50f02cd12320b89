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
)

// NewRecording describes a recording about to start.
type NewRecording struct {
	Title        string
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
	return n, err
}

// Create starts a new recording and returns its writer. It needs only the
// public recipient(s); the directory, metadata and record are written and
// fsynced before it returns.
func (v *Vault) Create(r NewRecording) (*SegmentWriter, error) {
	if r.Started.IsZero() {
		r.Started = time.Now()
	}
	m := &meta{
		Format: formatVersion, ID: newID(r.Started), Title: r.Title,
		Participants: append([]Participant{}, r.Participants...),
		Started:      r.Started.UTC(), State: stateRecording, Sync: SyncLocal,
		PreSkip: 0, Channels: 0,
	}
	if m.Participants == nil {
		m.Participants = []Participant{}
	}
	dir := v.recDir(m.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("vault: cannot create the recording directory: %w", diskErr("create recording", err))
	}
	fail := func(err error) (*SegmentWriter, error) {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("vault: cannot start the recording: %w", err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return fail(err)
	}
	// Held while this process writes: another process's Open must not
	// "recover" a recording that is alive.
	unlock, held, err := tryLock(filepath.Join(dir, lockFile))
	if err != nil || held {
		return fail(fmt.Errorf("cannot lock the new recording (held=%v): %w", held, err))
	}
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
	if err := v.putSummary(m); err != nil {
		unlock()
		return fail(err)
	}
	w := &SegmentWriter{v: v, id: m.ID, dir: dir, m: m, info: newPageInfo(), unlock: unlock}
	v.mu.Lock()
	v.live[m.ID] = w
	v.mu.Unlock()
	return w, nil
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
func (w *SegmentWriter) SetRecord(record []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.v.writeRecord(w.m.ID, record)
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
// metadata records its hash, size and end granule. With no open segment it
// does nothing.
func (w *SegmentWriter) Seal() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	return w.sealLocked()
}

func (w *SegmentWriter) sealLocked() error {
	s := w.cur
	if s == nil {
		return nil
	}
	err := s.w.Close()
	if err == nil {
		err = s.f.Sync()
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
		err = syncDir(w.dir)
	}
	if err != nil {
		return w.fail(diskErr("seal segment", err))
	}
	w.cur = nil
	m := *w.m
	m.Segments = append(append([]segMeta{}, w.m.Segments...), segMeta{
		Index: s.n, SHA256: hex.EncodeToString(s.h.Sum(nil)), Size: s.size, EndGranule: s.info.granule,
	})
	if s.info.preSkip >= 0 {
		m.PreSkip, m.Channels = s.info.preSkip, s.info.channels
	}
	w.m = &m
	// The segment is durable; if the metadata write fails, recovery at the
	// next Open adopts the segment from disk.
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
	// The in-memory index shows the truth even if the disk refused it.
	if ierr := w.v.putSummary(w.m); err == nil {
		err = ierr
	}
	w.v.mu.Lock()
	delete(w.v.live, w.m.ID)
	w.v.mu.Unlock()
	if err == nil {
		os.Remove(filepath.Join(w.dir, lockFile))
	}
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
	if err := w.sealLocked(); err != nil {
		return err
	}
	if err := w.finish(""); err != nil {
		return fmt.Errorf("vault: recording %s is sealed but its metadata could not be updated: %w; it will be recovered at the next start", w.m.ID, diskErr("close", err))
	}
	return nil
}
