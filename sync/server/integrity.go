package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"time"

	"github.com/assent-app/assent/consent"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/s3store"
)

// ---- per-recording serialisation -------------------------------------------------
//
// Registering, finalising, finishing an upload and deleting/erasing a
// recording each run under the recording's lock, so an erasure cannot
// interleave with a commit that would re-create what it removed, and two
// registrations cannot both "win". Within a process it is a mutex per id;
// on PostgreSQL it is also a session advisory lock on the id
// (RecordingLocker), so replicas on one database serialise the same way.

// RecordingLocker is implemented by stores that can lock a recording across
// every assentd on the database (PostgreSQL advisory locks). The returned
// function releases it.
type RecordingLocker interface {
	LockRecording(ctx context.Context, id string) (unlock func(), err error)
}

type recLocks struct {
	mu     gosync.Mutex
	m      map[string]*recLock
	shared RecordingLocker // nil: one process (SQLite)
	log    func(msg string, err error)
}

type recLock struct {
	mu   gosync.Mutex
	refs int
}

func (l *recLocks) lock(id string) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*recLock{}
	}
	e := l.m[id]
	if e == nil {
		e = &recLock{}
		l.m[id] = e
	}
	e.refs++
	l.mu.Unlock()
	e.mu.Lock()
	release := func() {}
	if l.shared != nil {
		// Bounded: a database that does not answer must not hang requests;
		// the checks made under the lock still run against the database.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if u, err := l.shared.LockRecording(ctx, id); err == nil {
			release = u
		} else if l.log != nil {
			l.log("the recording could not be locked across replicas; serialised in this process only", err)
		}
		cancel()
	}
	return func() {
		release()
		e.mu.Unlock()
		l.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(l.m, id)
		}
		l.mu.Unlock()
	}
}

// ---- append-only records ---------------------------------------------------------------

// errNotExtension is returned by extends when a new record version is not
// the stored one with events appended.
var errNotExtension = errors.New("the new consent record does not extend the stored one")

// extends checks that next is prev with zero or more events appended: the
// same header (same record id, same notice hashes, same retention …) and
// the stored events a prefix of the new ones. Both are hash chains, so the
// prefix is proven by the hash of the last stored event. same reports that
// next holds no new event.
func extends(prev, next []byte) (same bool, err error) {
	// The new version was verified by the caller (consent.Verify parses it
	// strictly); only the hashes are compared here.
	var p, n consent.Record
	if err := json.Unmarshal(prev, &p); err != nil {
		// A stored record always parsed when it was accepted; one that no
		// longer does was written by an older server: let the verified new
		// version replace it, but say so in the log (caller).
		return false, fmt.Errorf("stored record unreadable: %w", err)
	}
	if err := json.Unmarshal(next, &n); err != nil {
		return false, err
	}
	if p.RecordID != n.RecordID || p.HeaderHash() != n.HeaderHash() {
		return false, fmt.Errorf("%w: its header differs (record id %s, stored %s); a recording keeps one record for its whole life",
			errNotExtension, n.RecordID, p.RecordID)
	}
	if len(n.Events) < len(p.Events) {
		return false, fmt.Errorf("%w: it has %d events, the stored version already has %d; send the newest version of the record",
			errNotExtension, len(n.Events), len(p.Events))
	}
	if k := len(p.Events); k > 0 && n.Events[k-1].Hash != p.Events[k-1].Hash {
		return false, fmt.Errorf("%w: its event %d differs from the stored one; events are never changed or removed once sent",
			errNotExtension, k-1)
	}
	return len(n.Events) == len(p.Events), nil
}

// storedRecord reads the stored consent record of recording id (nil if none).
func (s *Server) storedRecord(ctx context.Context, id string) ([]byte, error) {
	rc, err := s.cfg.Objects.Get(ctx, recordKey(id))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, consent.MaxRecordSize+1))
}

// ---- uploads in progress ------------------------------------------------------------------

// uploadsOf lists the ids of the tus uploads in progress whose metadata
// names recording id ("" lists every upload).
func (s *Server) uploadsOf(id string) ([]uploadFile, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return s.uploadsIn(ctx, id)
}

// uploadsIn is uploadsOf under ctx: the uploads in Config.UploadDir and,
// when uploads live in S3 (Config.Uploads.S3), those in the bucket.
func (s *Server) uploadsIn(ctx context.Context, id string) ([]uploadFile, error) {
	out, err := s.localUploadsOf(id)
	if err != nil {
		return nil, err
	}
	if st, ok := s.tusStore.(s3store.S3Store); ok {
		more, err := s3UploadsOf(ctx, st, id)
		if err != nil {
			return nil, fmt.Errorf("list the uploads in the bucket: %w", err)
		}
		out = append(out, more...)
	}
	return out, nil
}

// s3UploadsOf lists the uploads s3store keeps in the bucket: one ".info"
// object under "uploads/" per upload (it holds the full upload id,
// "<object>+<multipart>", and the metadata); a finished upload's objects
// are removed when it is committed. Modified is the info object's time
// (written when the upload was created), as the local info file's is.
func s3UploadsOf(ctx context.Context, st s3store.S3Store, id string) ([]uploadFile, error) {
	c, ok := st.Service.(*s3.Client)
	if !ok {
		return nil, fmt.Errorf("the upload store's S3 client (%T) cannot list", st.Service)
	}
	var out []uploadFile
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(st.Bucket), Prefix: aws.String(st.MetadataObjectPrefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if !strings.HasSuffix(key, ".info") {
				continue
			}
			obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.Bucket), Key: aws.String(key)})
			var nsk *s3types.NoSuchKey
			if errors.As(err, &nsk) {
				continue // removed meanwhile
			}
			if err != nil {
				return nil, err
			}
			b, err := io.ReadAll(io.LimitReader(obj.Body, 1<<20))
			obj.Body.Close()
			if err != nil {
				return nil, err
			}
			var info tusd.FileInfo
			if json.Unmarshal(b, &info) != nil {
				info = tusd.FileInfo{} // damaged: an orphan for the sweeper
			}
			if id != "" && info.MetaData["recording"] != id {
				continue
			}
			uid := info.ID
			if uid == "" {
				uid = strings.TrimSuffix(strings.TrimPrefix(key, st.MetadataObjectPrefix), ".info")
			}
			out = append(out, uploadFile{ID: uid, Recording: info.MetaData["recording"], Device: info.MetaData["device"], Modified: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

// newUploadID is the id of a new upload of device: 32 hex digits (tusd's
// form), the first 12 the device's tag, the other 20 random, so the
// uploads in progress of one device are one prefix in the bucket.
func newUploadID(device string) string {
	var r [10]byte
	rand.Read(r[:])
	return deviceUploadTag(device) + hex.EncodeToString(r[:])
}

func deviceUploadTag(device string) string {
	h := sha256.Sum256([]byte("assentd-upload-of\x00" + device))
	return hex.EncodeToString(h[:6])
}

// deviceUploads counts the uploads in progress of device (the per-device
// quota). In the bucket it is one LIST of the device's prefix (its
// newUploadID tag), not a read of every upload's info: it runs at every
// upload creation. Uploads created before ids carried the tag are not
// counted; they expire after UploadTTL.
func (s *Server) deviceUploads(ctx context.Context, device string) (int, error) {
	st, ok := s.tusStore.(s3store.S3Store)
	if !ok {
		ups, err := s.localUploadsOf("")
		if err != nil {
			return 0, err
		}
		n := 0
		for _, u := range ups {
			if u.Device == device {
				n++
			}
		}
		return n, nil
	}
	c, ok := st.Service.(*s3.Client)
	if !ok {
		return 0, fmt.Errorf("the upload store's S3 client (%T) cannot list", st.Service)
	}
	n := 0
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(st.Bucket),
		Prefix: aws.String(st.MetadataObjectPrefix + deviceUploadTag(device))})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("list the device's uploads in the bucket: %w", err)
		}
		for _, o := range page.Contents {
			if strings.HasSuffix(aws.ToString(o.Key), ".info") {
				n++
			}
		}
	}
	return n, nil
}

// uploadOwnerInfo reads what the ownership check of a tus request needs
// (the upload's id and metadata). In the bucket that is its info object
// alone: one GET, where s3store's GetInfo also lists the multipart parts
// and looks for a part buffer (three requests), which tusd then does again
// for the request itself.
func (s *Server) uploadOwnerInfo(ctx context.Context, id string) (tusd.FileInfo, error) {
	st, ok := s.tusStore.(s3store.S3Store)
	c, isClient := st.Service.(*s3.Client)
	if !ok || !isClient {
		up, err := s.tusStore.GetUpload(ctx, id)
		if err != nil {
			return tusd.FileInfo{}, err
		}
		return up.GetInfo(ctx)
	}
	obj, _, found := strings.Cut(id, "+")
	if !found {
		return tusd.FileInfo{}, tusd.ErrNotFound // s3store's ids are "<object>+<multipart upload>"
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.Bucket), Key: aws.String(st.MetadataObjectPrefix + obj + ".info")})
	if err != nil {
		return tusd.FileInfo{}, err
	}
	defer out.Body.Close()
	var info tusd.FileInfo
	if err := json.NewDecoder(io.LimitReader(out.Body, 1<<20)).Decode(&info); err != nil {
		return tusd.FileInfo{}, err
	}
	if info.ID != id {
		return tusd.FileInfo{}, tusd.ErrNotFound
	}
	return info, nil
}

// localUploadsOf lists the uploads in Config.UploadDir (filestore).
func (s *Server) localUploadsOf(id string) ([]uploadFile, error) {
	if _, ok := s.tusStore.(s3store.S3Store); ok {
		return nil, nil // the directory holds only the buffers of PATCHes in flight
	}
	ents, err := os.ReadDir(s.cfg.UploadDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []uploadFile
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".info") {
			continue
		}
		uid := strings.TrimSuffix(name, ".info")
		b, err := os.ReadFile(filepath.Join(s.cfg.UploadDir, name))
		if err != nil {
			continue // removed meanwhile
		}
		var info tusd.FileInfo
		if json.Unmarshal(b, &info) != nil {
			info = tusd.FileInfo{} // damaged: an orphan for the sweeper
		}
		if id != "" && info.MetaData["recording"] != id {
			continue
		}
		fi, _ := e.Info()
		var mod time.Time
		if fi != nil {
			mod = fi.ModTime()
		}
		out = append(out, uploadFile{ID: uid, Recording: info.MetaData["recording"], Device: info.MetaData["device"], Modified: mod})
	}
	return out, nil
}

type uploadFile struct {
	ID        string
	Recording string
	Device    string
	Modified  time.Time
}

// terminateUpload stops a PATCH in progress on the upload (tusd's lock asks
// its holder to release) and removes the upload's files.
func (s *Server) terminateUpload(ctx context.Context, id string) error {
	lk, err := s.locker.NewLock(id)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := lk.Lock(lctx, func() {}); err != nil {
		return fmt.Errorf("upload %s is busy: %w", id, err)
	}
	defer lk.Unlock()
	up, err := s.tusStore.GetUpload(ctx, id)
	if errors.Is(err, tusd.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		if st, ok := s.tusStore.(s3store.S3Store); ok {
			// An info object without its multipart upload (or a damaged
			// one): remove what is left of it in the bucket.
			return removeS3Upload(ctx, st, id)
		}
		// The bin or info file alone may be left: remove both.
		os.Remove(filepath.Join(s.cfg.UploadDir, id))
		os.Remove(filepath.Join(s.cfg.UploadDir, id+".info"))
		return nil
	}
	if err != nil {
		return err
	}
	return s.tusStore.AsTerminatableUpload(up).Terminate(ctx)
}

// removeS3Upload deletes the info and part objects of upload id (the
// object id before any "+") that s3store no longer finds.
func removeS3Upload(ctx context.Context, st s3store.S3Store, id string) error {
	obj, _, _ := strings.Cut(id, "+")
	if obj == "" || strings.Contains(obj, "/") {
		return nil
	}
	for _, k := range []string{st.MetadataObjectPrefix + obj + ".info", st.MetadataObjectPrefix + obj + ".part", st.ObjectPrefix + obj + ".part"} {
		if _, err := st.Service.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(st.Bucket), Key: aws.String(k)}); err != nil {
			var nsk *s3types.NoSuchKey
			if !errors.As(err, &nsk) {
				return err
			}
		}
	}
	return nil
}

// terminateUploadsOf ends every upload in progress of recording id.
func (s *Server) terminateUploadsOf(ctx context.Context, id string) error {
	ups, err := s.uploadsIn(ctx, id)
	if err != nil {
		return err
	}
	var first error
	for _, u := range ups {
		if err := s.terminateUpload(ctx, u.ID); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// ---- sweeper ----------------------------------------------------------------------------------

// SweepResult says what one sweep removed.
type SweepResult struct {
	StaleUploads  int `json:"stale_uploads"`  // incomplete uploads older than UploadTTL
	OrphanUploads int `json:"orphan_uploads"` // uploads of a recording that no longer exists
	OrphanObjects int `json:"orphan_objects"` // recordings whose objects outlived their index entry
}

// Sweep removes incomplete uploads older than Config.UploadTTL, every
// upload whose recording is gone (deleted, erased, purged, or never
// registered), and — where the object store can list recordings
// (RecordingLister) — the objects of recordings without an index entry.
func (s *Server) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	ups, err := s.uploadsIn(ctx, "")
	if err != nil {
		return res, err
	}
	// Upload files carry the file system's times: compare with the real clock.
	cutoff := time.Now().Add(-s.cfg.UploadTTL)
	for _, u := range ups {
		orphan := false
		if u.Recording == "" {
			orphan = true
		} else if _, err := s.cfg.Store.Recording(ctx, u.Recording); errors.Is(err, ErrNotFound) {
			orphan = true
		} else if err != nil {
			return res, err
		}
		stale := !u.Modified.IsZero() && u.Modified.Before(cutoff)
		if !orphan && !stale {
			continue
		}
		if orphan && !stale && time.Since(u.Modified) < time.Minute {
			// A brand-new upload may belong to a registration still in flight.
			continue
		}
		if err := s.terminateUpload(ctx, u.ID); err != nil {
			return res, err
		}
		if orphan {
			res.OrphanUploads++
		} else {
			res.StaleUploads++
		}
	}
	if res.OrphanObjects, err = s.sweepObjects(ctx); err != nil {
		return res, err
	}
	if res.StaleUploads+res.OrphanUploads+res.OrphanObjects > 0 {
		s.audit(ctx, "sweeper", "uploads.sweep", "", fmt.Sprintf("%d stale, %d orphaned uploads removed; objects of %d recordings without an index entry removed", res.StaleUploads, res.OrphanUploads, res.OrphanObjects))
	}
	return res, nil
}

// RunSweep runs Sweep every interval until ctx ends.
func (s *Server) RunSweep(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("upload sweep failed; will retry", "err", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
