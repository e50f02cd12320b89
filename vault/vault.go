package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/crashpoint"
)

// File names inside a vault root and a recording directory (docs/vault.md).
const (
	configFile     = "vault.json"
	indexFile      = "index.age"
	deletionsFile  = "deletions.json"
	recordingsDir  = "recordings"
	metaFile       = "meta.json.age"
	recordFile     = "record.json.age"
	deletingSuffix = ".deleting"
	lockFile       = "writer.lock"
)

// Options configure [Open].
type Options struct {
	// Secrets is where the secret keys live; nil means [OSKeyring].
	Secrets SecretStore
	// Recover is called for each recording a crash left in progress that
	// holds sealed audio, with its current consent record and what is
	// sealed on disk. It returns the closed record (the sealed segments
	// bound to it, a Recovered event appended: see consent.Recover), which
	// the vault stores if it differs. It must be idempotent: a recovery that
	// crashed after storing the record calls it again with that record. If
	// it fails, the recording stays in progress and is offered again at the
	// next Open. Recordings without sealed audio are removed without a call.
	Recover func(id string, recordJSON []byte, sealed SealedAudio) ([]byte, error)
}

// SealedAudio is what survived of a recording a crash interrupted.
type SealedAudio struct {
	// Segments are the sealed segment files in order: index, start and end
	// (stream offsets: frames per channel at 48 kHz, pre-skip removed),
	// SHA-256 and size of the ciphertext.
	Segments []consent.SegmentRef
	Samples  int64     // the end of the sealed audio (the last segment's End)
	End      time.Time // when the last segment was sealed (its file's modification time)
}

// OpenReport says what [Open] found and did.
type OpenReport struct {
	Created   bool        // a new vault and new keys were made
	Recovered []Recovered // recordings interrupted by a crash
	// IndexRebuilt is set when the index was missing or damaged and was
	// rebuilt from the recordings' metadata; IndexProblem says why.
	IndexRebuilt bool
	IndexProblem error
	// Damaged lists recordings whose metadata cannot be read. Their files
	// are kept untouched and they are not listed.
	Damaged []Damaged
}

// Recovered describes one recording recovered after a crash.
type Recovered struct {
	ID            string
	Segments      int       // sealed segments kept
	SealedSamples int64     // per channel at 48 kHz
	AudioEnd      time.Time // when the sealed audio ended (zero if none)
	// Removed is set when the recording held no sealed audio: it was
	// removed, with everything about the people in it, as a refusal is.
	Removed bool
	Err     error // non-nil if the record could not be closed
}

// Damaged names a recording the vault cannot read.
type Damaged struct {
	ID  string
	Err error
}

// Vault is an open library. Its methods are safe for concurrent use.
type Vault struct {
	root  string
	cfg   *config
	keys  *keys
	mu    sync.Mutex
	index map[string]*Summary
	live  map[string]*SegmentWriter
}

// Open opens the vault at root, creating it (and new device keys in the
// keyring) if root holds no vault yet, and recovers recordings interrupted
// by a crash. If the keyring cannot provide the keys it returns a
// [*KeyringError] and creates nothing.
func Open(root string, opt Options) (*Vault, *OpenReport, error) {
	store := opt.Secrets
	if store == nil {
		store = OSKeyring()
	}
	rep := &OpenReport{}
	if err := os.MkdirAll(filepath.Join(root, recordingsDir), 0o700); err != nil {
		return nil, nil, fmt.Errorf("vault: cannot create the vault directory %s: %w", root, diskErr("create", err))
	}
	v := &Vault{root: root, live: map[string]*SegmentWriter{}}
	data, err := os.ReadFile(filepath.Join(root, configFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		ents, _ := os.ReadDir(filepath.Join(root, recordingsDir))
		if len(ents) > 0 {
			return nil, nil, fmt.Errorf("vault: %s has recordings but no %s (which names their key); restore %s from a backup — a new key could not open them", root, configFile, configFile)
		}
		k, c, err := createKeys(store)
		if err != nil {
			return nil, nil, err
		}
		v.keys, v.cfg = k, c
		if err := v.writeConfig(c); err != nil {
			return nil, nil, err
		}
		rep.Created = true
	case err != nil:
		return nil, nil, fmt.Errorf("vault: cannot read %s: %w", filepath.Join(root, configFile), err)
	default:
		c, err := parseConfig(data)
		if err != nil {
			return nil, nil, fmt.Errorf("vault: %s: %v; restore it from a backup", filepath.Join(root, configFile), err)
		}
		k, err := loadKeys(store, c)
		if err != nil {
			return nil, nil, err
		}
		v.keys, v.cfg = k, c
	}
	// Temporary files of atomic writes a crash interrupted (index,
	// deletions, reserve): the old file is still in place.
	if parts, _ := filepath.Glob(filepath.Join(root, "*.part")); len(parts) > 0 {
		for _, p := range parts {
			os.Remove(p)
		}
		syncDir(root)
	}
	if err := v.load(rep, opt.Recover); err != nil {
		return nil, nil, err
	}
	v.ensureReserve()
	return v, rep, nil
}

func (v *Vault) writeConfig(c *config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(v.root, configFile), append(b, '\n'), 0o600)
}

func (v *Vault) recDir(id string) string { return filepath.Join(v.root, recordingsDir, id) }

// load reads the index, reconciles it with the recording directories and
// recovers interrupted recordings.
func (v *Vault) load(rep *OpenReport, recover recoverFunc) error {
	dirty := false
	ct, err := os.ReadFile(filepath.Join(v.root, indexFile))
	if err == nil {
		var pt []byte
		pt, err = decrypt(ct, v.keys.identity, indexFile)
		if errors.Is(err, ErrWrongKey) {
			return err
		}
		if err == nil {
			v.index, err = parseIndex(pt)
		}
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			rep.IndexProblem = err
		}
		v.index = map[string]*Summary{}
		rep.IndexRebuilt = !rep.Created
		dirty = true
	}
	recs := filepath.Join(v.root, recordingsDir)
	d, err := os.Open(recs)
	var names []string
	if err == nil {
		names, err = d.Readdirnames(-1) // unsorted, no stat: fast for 10,000
		d.Close()
	}
	if err != nil {
		return fmt.Errorf("vault: cannot read %s: %w", recs, err)
	}
	// A delete interrupted after its tombstone was queued: the user asked
	// for it, so finish it (tombstones name only deleted recordings).
	tombstoned := map[string]bool{}
	if ts, err := v.readDeletionsLocked(); err == nil {
		for _, x := range ts {
			tombstoned[x.ID] = true
		}
	}
	onDisk := make(map[string]bool, len(names))
	for _, name := range names {
		if tombstoned[name] {
			if done, err := v.finishDelete(name); err != nil {
				return err
			} else if done {
				dirty = true
				continue
			}
		}
		if strings.HasSuffix(name, deletingSuffix) {
			// A delete was interrupted: finish it.
			if err := removeAll(filepath.Join(recs, name)); err != nil {
				return fmt.Errorf("vault: cannot finish deleting %s: %w", name, err)
			}
			continue
		}
		if checkID(name) != nil {
			continue
		}
		onDisk[name] = true
		if s, ok := v.index[name]; ok && !s.InProgress {
			continue
		}
		// Not in the index, or left in progress: read its metadata.
		gone, err := v.reconcile(name, rep, recover)
		if err != nil {
			delete(v.index, name)
			rep.Damaged = append(rep.Damaged, Damaged{ID: name, Err: err})
		}
		if gone {
			delete(v.index, name)
			delete(onDisk, name)
		}
		dirty = true
	}
	for id := range v.index {
		if !onDisk[id] {
			delete(v.index, id)
			dirty = true
		}
	}
	if dirty {
		return v.writeIndexLocked()
	}
	return nil
}

type recoverFunc = func(string, []byte, SealedAudio) ([]byte, error)

// finishDelete removes a tombstoned recording left on disk, unless a live
// process holds it. done reports that it was removed.
func (v *Vault) finishDelete(id string) (done bool, err error) {
	dir := v.recDir(id)
	unlock, held, lerr := tryLock(filepath.Join(dir, lockFile))
	if lerr == nil && held {
		return false, nil
	}
	if unlock != nil {
		defer unlock()
	}
	gone := dir + deletingSuffix
	if err := rename(dir, gone); err != nil {
		return false, fmt.Errorf("vault: cannot finish deleting %s: %w", id, err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return false, err
	}
	if err := removeAll(gone); err != nil {
		return false, fmt.Errorf("vault: cannot finish deleting %s: %w", id, err)
	}
	delete(v.index, id)
	return true, nil
}

// reconcile reads one recording's metadata into the index, recovering it if
// it was left in progress. gone reports that the recording was removed.
func (v *Vault) reconcile(id string, rep *OpenReport, recover recoverFunc) (gone bool, err error) {
	dir := v.recDir(id)
	lock := filepath.Join(dir, lockFile)
	m, err := v.readMeta(id)
	if errors.Is(err, fs.ErrNotExist) {
		// Crash between mkdir and the first metadata write: nothing was
		// recorded yet (segments are only written after the metadata) and
		// nothing names anyone. Unless a live process is creating it now.
		if unlock, held, lerr := tryLock(lock); lerr == nil && held {
			return false, nil
		} else if unlock != nil {
			unlock()
		}
		if segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.age")); len(segs) == 0 {
			return true, removeAll(dir)
		}
	}
	if err != nil {
		return false, err
	}
	if m.State == stateRecording {
		unlock, held, err := tryLock(lock)
		if err == nil && held {
			// Another process is recording it right now: not a crash.
			s := m.summary()
			v.index[id] = &s
			return false, nil
		}
		r := v.recoverRecording(m, recover)
		if unlock != nil {
			if r.Err == nil && !r.Removed {
				os.Remove(lock)
				syncDir(dir)
				crashpoint.Hit(crashpoint.RecoverUnlock)
			}
			unlock()
		}
		rep.Recovered = append(rep.Recovered, r)
		if r.Removed {
			return true, nil
		}
	} else if _, err := os.Stat(lock); err == nil {
		// Closed, but its writer died before removing the lock file.
		if unlock, held, err := tryLock(lock); err == nil && !held {
			os.Remove(lock)
			unlock()
		}
	}
	s := m.summary()
	v.index[id] = &s
	return false, nil
}

// recoverRecording removes unsealed files, adopts sealed segments the
// metadata does not list yet, binds them to the consent record and closes
// the recording — or removes it if it holds no sealed audio. Every step is
// idempotent: a crash at any of them is finished by the next Open.
func (v *Vault) recoverRecording(m *meta, recover recoverFunc) Recovered {
	dir := v.recDir(m.ID)
	parts, _ := filepath.Glob(filepath.Join(dir, "*.part"))
	for _, p := range parts {
		os.Remove(p)
	}
	if len(parts) > 0 {
		syncDir(dir)
		crashpoint.Hit(crashpoint.RecoverParts)
	}
	r := Recovered{ID: m.ID}
	// Sealed segments renamed into place after the last metadata write.
	for n := len(m.Segments) + 1; ; n++ {
		p := filepath.Join(dir, segName(n))
		ct, err := os.ReadFile(p)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				r.Err = fmt.Errorf("vault: cannot read %s: %w", p, err)
			}
			break
		}
		sg, info, err := v.inspectSegment(ct, n, m.PreSkip)
		if err != nil {
			r.Err = err
			break
		}
		if n == 1 && info.preSkip >= 0 {
			m.PreSkip, m.Channels = info.preSkip, info.channels
		}
		m.Segments = append(m.Segments, sg)
	}
	if r.Err != nil {
		return r
	}
	r.Segments = len(m.Segments)
	r.SealedSamples = m.sealedSamples()
	if len(m.Segments) > 0 {
		if st, err := os.Stat(filepath.Join(dir, segName(len(m.Segments)))); err == nil {
			r.AudioEnd = st.ModTime().UTC()
		}
	}
	if r.SealedSamples == 0 {
		// No audio was admitted (or none of it was sealed): remove it
		// exactly as a refusal would, names and all.
		if err := v.removeRecovered(m); err != nil {
			r.Err = err
			return r
		}
		r.Removed = true
		return r
	}
	m.Ended = r.AudioEnd
	if recover != nil {
		old, err := v.readRecord(m.ID)
		if errors.Is(err, fs.ErrNotExist) {
			r.Err = fmt.Errorf("vault: recording %s holds sealed audio but no consent record; it is kept in progress and not listed as playable", m.ID)
			return r
		}
		if err != nil {
			r.Err = err
			return r
		}
		closed, err := recover(m.ID, old, SealedAudio{Segments: m.segmentRefs(), Samples: r.SealedSamples, End: r.AudioEnd})
		if err != nil {
			r.Err = fmt.Errorf("vault: closing the consent record of recovered recording %s failed: %w", m.ID, err)
			return r
		}
		if closed != nil && !bytes.Equal(closed, old) {
			if err := v.writeRecord(m.ID, closed); err != nil {
				r.Err = err
				return r
			}
			crashpoint.Hit(crashpoint.RecoverRecord)
		}
		if closed != nil {
			old = closed
		}
		if ps, ok := participantsOf(old); ok {
			m.Participants = ps
		}
	}
	m.State, m.Recovered = stateClosed, true
	if m.StopReason == "" {
		m.StopReason = "crash"
	}
	if m.Ended.IsZero() {
		m.Ended = time.Now().UTC()
	}
	if err := v.writeMeta(m); err != nil {
		r.Err = err
		return r
	}
	crashpoint.Hit(crashpoint.RecoverMeta)
	return r
}

// removeRecovered removes an interrupted recording that holds no audio:
// a tombstone first if the server may know it, then the same steps as
// Delete (rename to .deleting, which the next Open finishes).
func (v *Vault) removeRecovered(m *meta) error {
	if m.Sync != SyncLocal {
		t, err := v.readDeletionsLocked()
		if err != nil {
			return err
		}
		found := false
		for _, x := range t {
			found = found || x.ID == m.ID
		}
		if !found {
			if err := v.writeDeletionsLocked(append(t, Tombstone{ID: m.ID, Deleted: time.Now().UTC()})); err != nil {
				return err
			}
		}
	}
	dir := v.recDir(m.ID)
	gone := dir + deletingSuffix
	if err := rename(dir, gone); err != nil {
		return fmt.Errorf("vault: cannot remove the audio-free recording %s: %w", m.ID, err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return err
	}
	crashpoint.Hit(crashpoint.RecoverRemove)
	removeAll(gone)
	return nil
}

// segmentRefs describes the listed segments as the consent record does.
func (m *meta) segmentRefs() []consent.SegmentRef {
	out := make([]consent.SegmentRef, len(m.Segments))
	var start int64
	for i, s := range m.Segments {
		end := max(s.EndGranule-int64(m.PreSkip), start)
		out[i] = consent.SegmentRef{Index: s.Index, Start: start, End: end, SHA256: s.SHA256, Size: s.Size}
		start = end
	}
	return out
}

// inspectSegment decrypts a sealed segment to learn its hash, size and end
// granule.
func (v *Vault) inspectSegment(ct []byte, n, preSkip int) (segMeta, pageInfo, error) {
	pt, err := decrypt(ct, v.keys.identity, segName(n))
	info := newPageInfo()
	if err == nil {
		err = scanPages(pt, &info)
		if err != nil {
			err = fmt.Errorf("vault: %s: %w: %v", segName(n), ErrDamaged, err)
		}
	}
	if err != nil {
		return segMeta{}, info, err
	}
	sum := sha256.Sum256(ct)
	return segMeta{Index: n, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(ct)), EndGranule: info.granule}, info, nil
}

func segName(n int) string { return "seg-" + fmt.Sprintf("%06d", n) + ".age" }

func parseSegName(name string) (int, bool) {
	if len(name) != len("seg-000000.age") || !strings.HasPrefix(name, "seg-") || !strings.HasSuffix(name, ".age") {
		return 0, false
	}
	n, err := strconv.Atoi(name[4:10])
	return n, err == nil && n > 0
}

func (v *Vault) readMeta(id string) (*meta, error) {
	ct, err := os.ReadFile(filepath.Join(v.recDir(id), metaFile))
	if err != nil {
		return nil, err
	}
	pt, err := decrypt(ct, v.keys.identity, id+"/"+metaFile)
	if err != nil {
		return nil, err
	}
	m, err := parseMeta(pt)
	if err != nil {
		return nil, fmt.Errorf("vault: %s/%s: %w: %v", id, metaFile, ErrDamaged, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("vault: %s/%s: %w: it describes recording %s", id, metaFile, ErrDamaged, m.ID)
	}
	return m, nil
}

func (v *Vault) writeMeta(m *meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ct, err := encrypt(b, v.keys.recipient)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(v.recDir(m.ID), metaFile), ct, 0o600); err != nil {
		return err
	}
	crashpoint.Hit(crashpoint.MetaWrite)
	return nil
}

func (v *Vault) readRecord(id string) ([]byte, error) {
	ct, err := os.ReadFile(filepath.Join(v.recDir(id), recordFile))
	if err != nil {
		return nil, err
	}
	return decrypt(ct, v.keys.identity, id+"/"+recordFile)
}

func (v *Vault) writeRecord(id string, record []byte) error {
	if !json.Valid(record) {
		return fmt.Errorf("vault: the consent record for %s is not valid JSON; it was not stored", id)
	}
	ct, err := encrypt(record, v.keys.recipient)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(v.recDir(id), recordFile), ct, 0o600); err != nil {
		return err
	}
	crashpoint.Hit(crashpoint.RecordSave)
	return nil
}

// writeIndexLocked rewrites index.age from v.index. Caller holds v.mu (or
// owns v exclusively during Open).
func (v *Vault) writeIndexLocked() error {
	list := make([]Summary, 0, len(v.index))
	for _, s := range v.index {
		list = append(list, *s)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	ct, err := encrypt(encodeIndex(list), v.keys.recipient)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(v.root, indexFile), ct, 0o600); err != nil {
		return err
	}
	crashpoint.Hit(crashpoint.IndexWrite)
	return nil
}

// putSummary updates one index entry and rewrites the index.
func (v *Vault) putSummary(m *meta) error {
	s := m.summary()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.index[m.ID] = &s
	return v.writeIndexLocked()
}

// reserveFile is a block of zeros kept in the vault root and removed when the
// disk fills, so that a stopped recording's metadata can still be written.
// It is recreated at the next Open.
const (
	reserveFile = "reserve"
	reserveSize = 256 << 10
)

func (v *Vault) ensureReserve() {
	p := filepath.Join(v.root, reserveFile)
	if st, err := os.Stat(p); err == nil && st.Size() == reserveSize {
		return
	}
	if err := writeAtomic(p, make([]byte, reserveSize), 0o600); err != nil {
		os.Remove(p) // no space for it now; try again next time
	}
}
