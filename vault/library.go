package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"

	"filippo.io/age"

	"github.com/assent-app/assent/internal/crashpoint"
)

// ErrNotFound is matched by errors about a recording id the vault does not hold.
var ErrNotFound = errors.New("no such recording")

func (v *Vault) lookup(id string) (*Summary, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.index[id]
	if !ok {
		return nil, fmt.Errorf("vault: recording %s: %w; list recordings to see what is stored", id, ErrNotFound)
	}
	c := *s
	return &c, nil
}

// List returns all recordings, newest first.
func (v *Vault) List() []Summary {
	v.mu.Lock()
	out := make([]Summary, 0, len(v.index))
	for _, s := range v.index {
		out = append(out, *s)
	}
	v.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out
}

// Get returns the summary of one recording.
func (v *Vault) Get(id string) (Summary, error) {
	s, err := v.lookup(id)
	if err != nil {
		return Summary{}, err
	}
	return *s, nil
}

// SegmentFile describes one sealed segment file, for uploads.
type SegmentFile struct {
	Index      int    // 1-based
	Path       string // absolute path of the ciphertext
	SHA256     string // hex SHA-256 of the ciphertext file
	Size       int64  // bytes of ciphertext
	EndGranule int64  // granule position of the segment's last page
}

// Segments lists the sealed segments of a recording in order.
func (v *Vault) Segments(id string) ([]SegmentFile, error) {
	m, err := v.meta(id)
	if err != nil {
		return nil, err
	}
	out := make([]SegmentFile, len(m.Segments))
	dir, _ := filepath.Abs(v.recDir(id))
	for i, s := range m.Segments {
		out[i] = SegmentFile{Index: s.Index, Path: filepath.Join(dir, segName(s.Index)), SHA256: s.SHA256, Size: s.Size, EndGranule: s.EndGranule}
	}
	return out, nil
}

func (v *Vault) meta(id string) (*meta, error) {
	if _, err := v.lookup(id); err != nil {
		return nil, err
	}
	return v.readMeta(id)
}

// Record returns the decrypted consent record JSON of a recording, or an
// error matching fs.ErrNotExist if none was stored.
func (v *Vault) Record(id string) ([]byte, error) {
	if _, err := v.lookup(id); err != nil {
		return nil, err
	}
	b, err := v.readRecord(id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("vault: recording %s has no consent record: %w", id, err)
	}
	return b, err
}

// OpenStream returns the decrypted sealed segments of a recording,
// concatenated: one Ogg Opus stream. Each segment's ciphertext is checked
// against the SHA-256 in the metadata; a mismatch or a damaged segment
// fails the read with an error matching [ErrDamaged] naming the segment.
func (v *Vault) OpenStream(id string) (io.ReadCloser, error) {
	m, err := v.meta(id)
	if err != nil {
		return nil, err
	}
	return &stream{v: v, m: m}, nil
}

// OpenSegment returns one decrypted sealed segment (1-based index) of a
// recording; like [Vault.OpenStream] it checks the ciphertext's SHA-256
// against the metadata when the segment has been read to its end.
func (v *Vault) OpenSegment(id string, index int) (io.ReadCloser, error) {
	m, err := v.meta(id)
	if err != nil {
		return nil, err
	}
	if index < 1 || index > len(m.Segments) {
		return nil, fmt.Errorf("vault: recording %s has %d sealed segments, not %d", id, len(m.Segments), index)
	}
	one := *m
	one.Segments = m.Segments[index-1 : index]
	return &stream{v: v, m: &one}, nil
}

type stream struct {
	v    *Vault
	m    *meta
	next int // index into m.Segments of the next segment to open
	f    *os.File
	h    hash.Hash
	r    io.Reader
	seg  segMeta
	err  error
}

func (s *stream) Read(p []byte) (int, error) {
	for {
		if s.err != nil {
			return 0, s.err
		}
		if s.r == nil {
			if s.next >= len(s.m.Segments) {
				return 0, io.EOF
			}
			if err := s.open(); err != nil {
				s.err = err
				continue
			}
		}
		n, err := s.r.Read(p)
		if err == io.EOF {
			err = s.endSegment()
			if err == nil && n == 0 {
				continue
			}
		} else if err != nil {
			err = decryptErr(err, s.m.ID+"/"+segName(s.seg.Index))
		}
		if err != nil {
			s.err = err
		}
		if n > 0 || err != nil {
			return n, nil
		}
	}
}

func (s *stream) open() error {
	s.seg = s.m.Segments[s.next]
	s.next++
	name := s.m.ID + "/" + segName(s.seg.Index)
	f, err := os.Open(filepath.Join(s.v.recDir(s.m.ID), segName(s.seg.Index)))
	if err != nil {
		return fmt.Errorf("vault: %s: %w: the sealed segment is missing (%v)", name, ErrDamaged, err)
	}
	s.f, s.h = f, sha256.New()
	r, err := age.Decrypt(io.TeeReader(f, s.h), s.v.keys.identity)
	if err != nil {
		return decryptErr(err, name)
	}
	s.r = r
	return nil
}

func (s *stream) endSegment() error {
	io.Copy(s.h, s.f) // age may stop reading before the very end
	sum := hex.EncodeToString(s.h.Sum(nil))
	s.f.Close()
	s.f, s.r = nil, nil
	if sum != s.seg.SHA256 {
		return fmt.Errorf("vault: %s/%s: %w: its SHA-256 does not match the one recorded when it was sealed", s.m.ID, segName(s.seg.Index), ErrDamaged)
	}
	return nil
}

func (s *stream) Close() error {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	if s.err == nil {
		s.err = errors.New("vault: stream closed")
	}
	return nil
}

// Export writes a recording, decrypted, into dir (created if needed):
// <title>.opus, consent-record.json (if a record is stored) and each of
// extras (file name → content, e.g. human-readable receipts). Files are
// written under temporary names and renamed, and existing files are never
// overwritten. It returns the paths written. The exported files are
// plaintext by the user's choice (portability); the vault itself never
// writes plaintext.
func (v *Vault) Export(id, dir string, extras map[string][]byte) ([]string, error) {
	s, err := v.lookup(id)
	if err != nil {
		return nil, err
	}
	for name := range extras {
		if err := checkExportName(name); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("vault: cannot create the export folder %s: %w", dir, diskErr("export", err))
	}
	audioName := exportTitle(s.Title, s.ID) + ".opus"
	names := []string{audioName}
	record, err := v.readRecord(id)
	switch {
	case err == nil:
		names = append(names, "consent-record.json")
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	for name := range extras {
		names = append(names, name)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return nil, fmt.Errorf("vault: export would write %q twice; rename the extra file", n)
		}
		seen[n] = true
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			return nil, fmt.Errorf("vault: %s already exists; choose an empty folder or move it away", filepath.Join(dir, n))
		}
	}
	var written []string
	undo := func(err error) ([]string, error) {
		for _, p := range written {
			os.Remove(p)
		}
		return nil, err
	}
	st, err := v.OpenStream(id)
	if err != nil {
		return nil, err
	}
	p := filepath.Join(dir, audioName)
	err = exportFile(p, st)
	st.Close()
	if err != nil {
		return undo(err)
	}
	written = append(written, p)
	if record != nil {
		var pretty bytes.Buffer
		if json.Indent(&pretty, record, "", "  ") != nil {
			pretty.Reset()
			pretty.Write(record)
		}
		pretty.WriteByte('\n')
		p := filepath.Join(dir, "consent-record.json")
		if err := exportFile(p, &pretty); err != nil {
			return undo(err)
		}
		written = append(written, p)
	}
	extraNames := make([]string, 0, len(extras))
	for n := range extras {
		extraNames = append(extraNames, n)
	}
	sort.Strings(extraNames)
	for _, n := range extraNames {
		p := filepath.Join(dir, n)
		if err := exportFile(p, bytes.NewReader(extras[n])); err != nil {
			return undo(err)
		}
		written = append(written, p)
	}
	return written, nil
}

func exportFile(path string, r io.Reader) error {
	tmp := path + ".part"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("vault: export: %w", diskErr("export "+filepath.Base(path), err))
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, path) // fails instead of overwriting
		if err != nil && !errors.Is(err, fs.ErrExist) {
			// No hard links (e.g. a FAT-formatted USB stick): the name was
			// checked to be free before the export started.
			if _, serr := os.Lstat(path); errors.Is(serr, fs.ErrNotExist) {
				err = rename(tmp, path)
			}
		}
	}
	os.Remove(tmp)
	if err != nil {
		return fmt.Errorf("vault: export %s: %w", filepath.Base(path), diskErr("export", err))
	}
	return nil
}

func checkExportName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\:`) || strings.ContainsRune(name, 0) || len(name) > 200 {
		return fmt.Errorf("vault: %q cannot be an export file name (no paths or separators allowed)", clip(name))
	}
	return nil
}

// exportTitle makes a safe file name from a title.
func exportTitle(title, id string) string {
	var b strings.Builder
	for _, r := range title {
		switch {
		case r == '/' || r == '\\' || r == ':' || r == '*' || r == '?' || r == '"' || r == '<' || r == '>' || r == '|':
			b.WriteRune('_')
		case unicode.IsControl(r):
		default:
			b.WriteRune(r)
		}
		if b.Len() > 120 {
			break
		}
	}
	t := strings.Trim(strings.TrimSpace(b.String()), ".")
	if t == "" {
		return "recording-" + id
	}
	return t
}

// Tombstone is a recording deleted locally after it reached the server: the
// sync client must delete the server copy, then call
// [Vault.DeletionConfirmed].
type Tombstone struct {
	ID      string    `json:"id"`
	Deleted time.Time `json:"deleted"`
}

type deletions struct {
	Format     int         `json:"format"`
	Tombstones []Tombstone `json:"tombstones"`
}

func parseDeletions(data []byte) ([]Tombstone, error) {
	var d deletions
	if err := strictUnmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %v", deletionsFile, err)
	}
	if d.Format != formatVersion {
		return nil, fmt.Errorf("%s has format %d; this version reads format %d", deletionsFile, d.Format, formatVersion)
	}
	for _, t := range d.Tombstones {
		if err := checkID(t.ID); err != nil {
			return nil, fmt.Errorf("%s: %v", deletionsFile, err)
		}
	}
	return d.Tombstones, nil
}

func (v *Vault) readDeletionsLocked() ([]Tombstone, error) {
	b, err := os.ReadFile(filepath.Join(v.root, deletionsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t, err := parseDeletions(b)
	if err != nil {
		return nil, fmt.Errorf("vault: %w: %v; the pending server deletions cannot be read — fix or remove the file, then delete those recordings on the server by hand", ErrDamaged, err)
	}
	return t, nil
}

func (v *Vault) writeDeletionsLocked(t []Tombstone) error {
	if t == nil {
		t = []Tombstone{}
	}
	b, err := json.MarshalIndent(deletions{Format: formatVersion, Tombstones: t}, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(v.root, deletionsFile), append(b, '\n'), 0o600)
}

// PendingDeletions returns the recordings deleted locally whose server copy
// still has to be deleted, oldest first.
func (v *Vault) PendingDeletions() ([]Tombstone, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.readDeletionsLocked()
}

// DeletionConfirmed removes the tombstone of id once the server confirmed
// the deletion. Unknown ids are not an error.
func (v *Vault) DeletionConfirmed(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	t, err := v.readDeletionsLocked()
	if err != nil {
		return err
	}
	out := t[:0]
	for _, x := range t {
		if x.ID != id {
			out = append(out, x)
		}
	}
	if len(out) == len(t) {
		return nil
	}
	if err := v.writeDeletionsLocked(out); err != nil {
		return err
	}
	crashpoint.Hit(crashpoint.TombstoneCleared)
	return nil
}

// Delete removes a recording: every file and its index entry. If any of it
// reached the server (sync state uploading or synced) a tombstone is queued
// first, so the sync client deletes the server copy too. A recording in
// progress must be stopped first.
func (v *Vault) Delete(id string) error {
	return v.remove(id, true)
}

func (v *Vault) remove(id string, tombstone bool) error {
	if err := checkID(id); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.index[id]
	if !ok {
		return fmt.Errorf("vault: recording %s: %w; list recordings to see what is stored", id, ErrNotFound)
	}
	// Only a recording being written by this process is refused; one left
	// in progress by a crash whose record could not be closed is deletable.
	if _, live := v.live[id]; live {
		return fmt.Errorf("vault: recording %s is still recording; stop it before deleting it", id)
	}
	if s.InProgress {
		unlock, held, err := tryLock(filepath.Join(v.recDir(id), lockFile))
		if err == nil && held {
			return fmt.Errorf("vault: recording %s is being recorded by another Assent process; stop it there before deleting it", id)
		}
		if unlock != nil {
			defer unlock()
		}
	}
	if tombstone && s.Sync != SyncLocal {
		t, err := v.readDeletionsLocked()
		if err != nil {
			return fmt.Errorf("vault: cannot queue the server deletion of %s, so nothing was deleted: %w", id, err)
		}
		t = append(t, Tombstone{ID: id, Deleted: time.Now().UTC()})
		if err := v.writeDeletionsLocked(t); err != nil {
			return fmt.Errorf("vault: cannot queue the server deletion of %s, so nothing was deleted: %w", id, err)
		}
		crashpoint.Hit(crashpoint.DeleteTombstone)
	}
	dir := v.recDir(id)
	gone := dir + deletingSuffix
	if err := rename(dir, gone); err != nil {
		return fmt.Errorf("vault: cannot delete recording %s: %w", id, err)
	}
	delete(v.index, id)
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("vault: deleting %s: %w", id, err)
	}
	crashpoint.Hit(crashpoint.DeleteRename)
	if err := v.writeIndexLocked(); err != nil {
		return fmt.Errorf("vault: recording %s was removed but the index could not be rewritten (it is repaired at the next start): %w", id, err)
	}
	crashpoint.Hit(crashpoint.DeleteIndex)
	if err := removeAll(gone); err != nil {
		return fmt.Errorf("vault: recording %s is unlisted but some of its files remain in %s (they are removed at the next start): %w", id, gone, err)
	}
	crashpoint.Hit(crashpoint.DeleteRemoved)
	return syncDir(filepath.Dir(dir))
}

// SetSyncState records how far a recording got towards the server. at is
// when it happened (zero means now); for SyncSynced it starts the
// retention clock.
func (v *Vault) SetSyncState(id string, state SyncState, at time.Time) error {
	if !state.valid() {
		return fmt.Errorf("vault: %q is not a sync state (want local, uploading or synced)", clip(string(state)))
	}
	if at.IsZero() {
		at = time.Now()
	}
	if _, err := v.lookup(id); err != nil {
		return err
	}
	v.mu.Lock()
	w := v.live[id]
	v.mu.Unlock()
	if w != nil {
		// Keep the writer's copy of the metadata authoritative.
		w.mu.Lock()
		defer w.mu.Unlock()
		m := *w.m
		m.Sync, m.SyncedAt = state, syncedAt(state, at)
		if err := v.writeMeta(&m); err != nil {
			return err
		}
		w.m = &m
		return v.putSummary(&m)
	}
	m, err := v.readMeta(id)
	if err != nil {
		return err
	}
	m.Sync, m.SyncedAt = state, syncedAt(state, at)
	if err := v.writeMeta(m); err != nil {
		return err
	}
	return v.putSummary(m)
}

func syncedAt(s SyncState, at time.Time) time.Time {
	if s == SyncSynced {
		return at.UTC()
	}
	return time.Time{}
}

// RetentionPolicy says how long local copies are kept.
type RetentionPolicy struct {
	// AfterSync: delete the local copy this long after the server
	// confirmed it (0 disables).
	AfterSync time.Duration
	// MaxAge: the absolute local maximum, counted from the recording's
	// start (0 disables). Synced recordings older than this are deleted
	// locally; unsynced ones are never deleted but reported.
	MaxAge time.Duration
}

// RetentionReport says what [Vault.Retention] did.
type RetentionReport struct {
	Deleted []string // local copies removed (their server copies stay)
	// Overdue lists unsynced recordings older than MaxAge: they were kept
	// and the user should sync or delete them.
	Overdue []Summary
}

// Retention applies p at time now. Only local copies of synced recordings
// are deleted (no server tombstone: the server applies its own retention).
func (v *Vault) Retention(p RetentionPolicy, now time.Time) (*RetentionReport, error) {
	rep := &RetentionReport{}
	var errs []error
	for _, s := range v.List() {
		if s.InProgress {
			continue
		}
		expired := false
		if s.Sync == SyncSynced {
			if p.AfterSync > 0 && !now.Before(s.SyncedAt.Add(p.AfterSync)) {
				expired = true
			}
			if p.MaxAge > 0 && !now.Before(s.Started.Add(p.MaxAge)) {
				expired = true
			}
		} else if p.MaxAge > 0 && !now.Before(s.Started.Add(p.MaxAge)) {
			rep.Overdue = append(rep.Overdue, s)
		}
		if expired {
			if err := v.remove(s.ID, false); err != nil {
				errs = append(errs, err)
				continue
			}
			crashpoint.Hit(crashpoint.RetentionDeleted)
			rep.Deleted = append(rep.Deleted, s.ID)
		}
	}
	return rep, errors.Join(errs...)
}

// Upload is a recording as the sync client sees it.
type Upload struct {
	ID       string
	Record   []byte // the current consent record JSON (nil if none)
	Stopped  bool   // no more segments will appear; Record is final
	Segments []SegmentFile
}

// Unsynced lists the recordings the server does not hold completely yet,
// oldest first, each with its sealed segments so far (recordings in
// progress included).
func (v *Vault) Unsynced() ([]Upload, error) {
	l := v.List()
	var out []Upload
	for i := len(l) - 1; i >= 0; i-- {
		s := l[i]
		if s.Sync == SyncSynced {
			continue
		}
		segs, err := v.Segments(s.ID)
		if err != nil {
			return nil, err
		}
		rec, err := v.readRecord(s.ID)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		out = append(out, Upload{ID: s.ID, Record: rec, Stopped: !s.InProgress, Segments: segs})
	}
	return out, nil
}

// MarkSynced records that the server holds recording id completely (sync
// state synced, now).
func (v *Vault) MarkSynced(id string) error { return v.SetSyncState(id, SyncSynced, time.Time{}) }
