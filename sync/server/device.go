package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	tusd "github.com/tus/tusd/v2/pkg/handler"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/sync/api"
)

var (
	recordingIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
	sha256Re      = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// tusd's ids: 16 random bytes in hex (filestore); the s3store
	// (uploads.go) appends "+" and the multipart upload id. Never "..".
	uploadIDRe = regexp.MustCompile(`^[0-9a-f]{32}(\+[A-Za-z0-9._~-]{1,512})?$`)
)

// validRecordingID: the id pattern, and never "..", so an id is always one
// path element of an object key.
func validRecordingID(id string) bool {
	return recordingIDRe.MatchString(id) && !strings.Contains(id, "..")
}

// validUploadID: tusd's id pattern and never "..", so an id is never a path.
func validUploadID(id string) bool {
	return uploadIDRe.MatchString(id) && !strings.Contains(id, "..")
}

func segKey(rec string, idx int) string { return fmt.Sprintf("recordings/%s/seg-%06d.age", rec, idx) }
func recordKey(rec string) string       { return "recordings/" + rec + "/record.json" }
func noticeKey(rec, sum string) string  { return "recordings/" + rec + "/notices/" + sum + ".md" }

// ---- enrolment ------------------------------------------------------------------

type EnrolRequest = api.EnrolRequest

type EnrolResponse = api.EnrolResponse

// ParseEnrolRequest decodes and checks an enrolment body.
func ParseEnrolRequest(body []byte) (EnrolRequest, ed25519.PublicKey, error) {
	var req EnrolRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, nil, fmt.Errorf("body is not a valid enrolment request: %v", err)
	}
	if strings.TrimSpace(req.Code) == "" {
		return req, nil, errors.New("code is missing: ask your administrator for an enrolment code (assentd enroll)")
	}
	key, err := base64.StdEncoding.DecodeString(req.SigningKey)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return req, nil, errors.New("signing_key must be the device's 32-byte Ed25519 public key in standard base64")
	}
	if !strings.HasPrefix(req.AgeRecipient, "age1") || len(req.AgeRecipient) < 20 || len(req.AgeRecipient) > 200 {
		return req, nil, errors.New("age_recipient must be the device's age X25519 recipient (age1...)")
	}
	if len(req.Name) > 200 {
		return req, nil, errors.New("name is longer than 200 characters")
	}
	return req, ed25519.PublicKey(key), nil
}

func (s *Server) enrol(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		problem(w, http.StatusRequestEntityTooLarge, "too-large", "Body too large", "An enrolment request is a small JSON object; send at most 64 KiB.")
		return
	}
	req, key, err := ParseEnrolRequest(body)
	if err != nil {
		problem(w, http.StatusBadRequest, "bad-enrolment", "Invalid enrolment request", err.Error())
		return
	}
	give, ok := s.failAttempt(w, r) // devices.go: counted across replicas
	if !ok {
		return
	}
	err = s.cfg.Store.UseEnrolmentCode(r.Context(), hashToken(strings.TrimSpace(req.Code)), s.now())
	if !errors.Is(err, ErrNotFound) {
		give() // a used code (or our own failure) is no guess
	}
	if errors.Is(err, ErrNotFound) {
		s.audit(r.Context(), "anonymous", "enrolment.failed", "", routeLabel(r))
		problem(w, http.StatusForbidden, "bad-code", "Enrolment code not valid", "The code is unknown, already used or expired. Ask your administrator for a new one (assentd enroll).")
		return
	}
	if err != nil {
		s.internal(w, "checking the enrolment code", err)
		return
	}
	token := randomToken(32)
	d := Device{ID: "dev_" + randomToken(12), Name: req.Name, SigningKey: key, AgeRecipient: req.AgeRecipient, TokenHash: hashToken(token), EnrolledAt: s.now()}
	if err := s.cfg.Store.AddDevice(r.Context(), d); err != nil {
		s.internal(w, "saving the device", err)
		return
	}
	s.audit(r.Context(), "enrolment", "device.enrol", "", d.ID)
	s.cfg.Store.RotateToken(r.Context(), d.ID, d.TokenHash, d.TokenHash, d.EnrolledAt) // records when the token was issued
	pol, err := s.latestPolicy(r.Context())
	if err != nil {
		s.log.Error("reading the policy for an enrolment", "err", err.Error())
	}
	writeJSON(w, http.StatusCreated, EnrolResponse{DeviceID: d.ID, Token: token, EscrowRecipient: s.cfg.EscrowRecipient,
		PolicyKey: base64.StdEncoding.EncodeToString(s.policyPub()), Policy: pol})
}

func (s *Server) escrow(w http.ResponseWriter, r *http.Request, d Device) {
	if s.cfg.EscrowRecipient == "" {
		problem(w, http.StatusNotFound, "no-escrow", "No escrow recipient configured", "The administrator has not configured an organisation escrow recipient (ASSENTD_ESCROW_RECIPIENT); segments are encrypted to the device only.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"escrow_recipient": s.cfg.EscrowRecipient})
}

// ---- registration and finalisation ----------------------------------------------

type RegisterRequest = api.RegisterRequest

// NoticeText is one notice text sent with a record.
type NoticeText = api.NoticeText

type SegmentInfo = api.SegmentInfo

type FinaliseRequest = api.FinaliseRequest

type RecordingStatus = api.RecordingStatus

// CheckSegments validates a finalisation's segment list (unique, non-negative
// indexes, hex hashes, positive sizes).
func CheckSegments(segs []SegmentInfo) error {
	if len(segs) == 0 {
		return errors.New("segments is empty: a finalised recording has at least one segment")
	}
	seen := map[int]bool{}
	for _, sg := range segs {
		if sg.Index < 0 {
			return fmt.Errorf("segment index %d is negative", sg.Index)
		}
		if seen[sg.Index] {
			return fmt.Errorf("segment index %d is listed twice", sg.Index)
		}
		seen[sg.Index] = true
		if !sha256Re.MatchString(sg.SHA256) {
			return fmt.Errorf("segment %d: sha256 must be 64 lower-case hex digits", sg.Index)
		}
		if sg.Size <= 0 {
			return fmt.Errorf("segment %d: size must be positive", sg.Index)
		}
	}
	return nil
}

// verify runs the record verifier and checks it belongs to recording id.
func (s *Server) verify(w http.ResponseWriter, d Device, id string, record []byte) (Verified, bool) {
	if len(record) == 0 || string(record) == "null" {
		problem(w, http.StatusBadRequest, "record-missing", "Consent record missing", "Send the recording's consent record (its JSON) in the field \"record\".")
		return Verified{}, false
	}
	v, err := s.cfg.Verify(record, ed25519.PublicKey(d.SigningKey))
	if errors.Is(err, consent.ErrAudioMismatch) {
		// Intact and signed, but its SegmentSealed events and its offsets
		// disagree (e.g. closed later than its last segment ends): the same
		// refusal as sealedMatchStored's, under the same slug.
		s.metrics.recordRejected.Add(1)
		problem(w, http.StatusUnprocessableEntity, "record-segments-mismatch", "Consent record and its sealed segments disagree",
			"The consent record was refused: "+err.Error()+". Send the record the device wrote; it lists every sealed segment and ends where the last one ends.")
		return v, false
	}
	if err != nil {
		s.metrics.recordRejected.Add(1)
		problem(w, http.StatusUnprocessableEntity, "record-invalid", "Consent record does not verify",
			"The consent record was refused: "+err.Error()+". The server keeps only recordings whose record is intact, signed by this device and covers every recorded span; do not edit records, and re-sync from the device that made the recording.")
		return v, false
	}
	if v.RecordingID != id {
		s.metrics.recordRejected.Add(1)
		problem(w, http.StatusUnprocessableEntity, "record-mismatch", "Consent record belongs to another recording",
			fmt.Sprintf("The record is for recording %q, not %q; send each recording with its own record.", v.RecordingID, id))
		return v, false
	}
	return v, true
}

func (s *Server) subjects(v Verified) []string {
	out := make([]string, 0, len(v.Principals))
	for _, p := range v.Principals {
		if strings.TrimSpace(p) != "" {
			out = append(out, s.subjectHash(p))
		}
	}
	return out
}

func (s *Server) retainUntil(created time.Time, v Verified) time.Time {
	m := v.RetentionMonths
	if m <= 0 {
		m = s.cfg.RetentionMonths
	}
	return created.AddDate(0, m, 0)
}

func (s *Server) register(w http.ResponseWriter, r *http.Request, d Device) {
	var req RegisterRequest
	if !readJSON(w, r, &req) {
		return
	}
	if !validRecordingID(req.ID) {
		problem(w, http.StatusBadRequest, "bad-id", "Invalid recording id", "id must be 1–128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit and without '..'.")
		return
	}
	v, ok := s.verify(w, d, req.ID, req.Record)
	if !ok {
		return
	}
	if !s.checkNotices(w, req.Record, req.Notices) {
		return
	}
	ctx := r.Context()
	if s.policyProblem(w, s.checkPolicy(ctx, req.Record)) {
		return
	}
	unlock := s.locks.lock(req.ID)
	defer unlock()
	existing, err := s.cfg.Store.Recording(ctx, req.ID)
	switch {
	case err == nil && existing.DeviceID != d.ID:
		problem(w, http.StatusConflict, "id-taken", "Recording id taken", "Another device registered a recording with this id; recording ids must be unique.")
		return
	case err == nil:
		if !s.storeNotices(w, ctx, req.ID, req.Notices) {
			return
		}
		if !s.acceptVersion(w, ctx, existing, req.Record, v) {
			return
		}
		writeJSON(w, http.StatusOK, s.statusOf(ctx, existing))
		return
	case !errors.Is(err, ErrNotFound):
		s.internal(w, "looking up the recording", err)
		return
	}
	if gone, err := s.cfg.Store.Deleted(ctx, req.ID); err != nil {
		s.internal(w, "looking up the recording", err)
		return
	} else if gone {
		problem(w, http.StatusGone, "deleted", "Recording was deleted",
			"This recording was deleted or erased on the server (by its device, an erasure request or retention); it is never accepted again. Delete the local copy.")
		return
	}
	// The index row first: of two devices registering one new id at once,
	// only the one whose row was inserted writes the record.
	now := s.now().UTC()
	rec := Recording{ID: req.ID, DeviceID: d.ID, CreatedAt: now, RetainUntil: s.retainUntil(now, v)}
	if err := s.cfg.Store.AddRecording(ctx, rec, s.subjects(v)); err != nil {
		if errors.Is(err, ErrExists) {
			problem(w, http.StatusConflict, "id-taken", "Recording id taken", "A recording with this id was registered at the same moment; retry the request.")
			return
		}
		s.internal(w, "saving the recording", err)
		return
	}
	// The texts before the record that cites them.
	if !s.storeNotices(w, ctx, req.ID, req.Notices) {
		return
	}
	if _, err := s.cfg.Objects.Put(ctx, recordKey(req.ID), bytes.NewReader(req.Record)); err != nil {
		// The row without a record is completed by the next registration.
		s.internal(w, "storing the consent record", err)
		return
	}
	writeJSON(w, http.StatusCreated, s.statusOf(ctx, rec))
}

// checkNotices checks the notice texts sent with a record: each text's
// SHA-256 is its sha256, and the set of sha256 is exactly the record's
// notice.texts (no text the record does not cite, none it cites missing).
// None at all is accepted only without Config.RequireNoticeTexts (devices
// older than the stored texts). On failure it wrote a 422 problem.
func (s *Server) checkNotices(w http.ResponseWriter, record []byte, notices []NoticeText) bool {
	if len(notices) == 0 {
		if s.cfg.RequireNoticeTexts {
			problem(w, http.StatusUnprocessableEntity, "notice-texts-missing", "Notice texts missing",
				"The consent record was sent without the notice texts it cites (notices), so this server could not show what the participants were told. "+
					"Update Assent on the device and sync again; a recording made before Assent stored its notice texts can be accepted only if the administrator runs assentd with -require-notice-texts=false.")
			return false
		}
		return true
	}
	rec, err := consent.Parse(record)
	if err != nil {
		problem(w, http.StatusUnprocessableEntity, "notice-mismatch", "Notice texts do not match the record", "The consent record cannot be read: "+err.Error())
		return false
	}
	cited := map[string]string{}
	for _, t := range rec.Notice.Texts {
		cited[t.SHA256] = t.Lang
	}
	seen := map[string]bool{}
	for i, n := range notices {
		sum := sha256.Sum256([]byte(n.Text))
		if got := hex.EncodeToString(sum[:]); got != n.SHA256 {
			problem(w, http.StatusUnprocessableEntity, "notice-mismatch", "Notice texts do not match the record",
				fmt.Sprintf("notices[%d] (%s): the SHA-256 of the text is %s, not the sha256 %q sent with it. Send the exact bytes of the text.", i, n.Lang, got, n.SHA256))
			return false
		}
		if _, ok := cited[n.SHA256]; !ok {
			problem(w, http.StatusUnprocessableEntity, "notice-mismatch", "Notice texts do not match the record",
				fmt.Sprintf("notices[%d] (%s, sha256 %s) is not a notice text the consent record cites (notice.texts).", i, n.Lang, n.SHA256))
			return false
		}
		seen[n.SHA256] = true
	}
	for sum, lang := range cited {
		if !seen[sum] {
			problem(w, http.StatusUnprocessableEntity, "notice-mismatch", "Notice texts do not match the record",
				fmt.Sprintf("The consent record cites the %s notice text (sha256 %s) but it was not sent; send every text the record cites.", lang, sum))
			return false
		}
	}
	return true
}

// storeNotices stores checked notice texts next to the record
// (recordings/<id>/notices/<sha256>.md; content-addressed, so storing one
// again is harmless). On failure it wrote the problem.
func (s *Server) storeNotices(w http.ResponseWriter, ctx context.Context, id string, notices []NoticeText) bool {
	for _, n := range notices {
		if _, err := s.cfg.Objects.Put(ctx, noticeKey(id, n.SHA256), strings.NewReader(n.Text)); err != nil {
			s.internal(w, "storing a notice text", err)
			return false
		}
	}
	return true
}

// acceptVersion stores a new version of the consent record of an existing
// recording if it extends the stored one, and adds its people to the
// subject index (never removes: a person once in any accepted version stays
// findable). The caller holds the recording's lock. On failure it wrote the
// problem. A finalised recording takes no new version; sending the final
// one again is answered as a success.
func (s *Server) acceptVersion(w http.ResponseWriter, ctx context.Context, rec Recording, record []byte, v Verified) bool {
	stored, err := s.storedRecord(ctx, rec.ID)
	if err != nil {
		s.internal(w, "reading the stored consent record", err)
		return false
	}
	same := false
	if stored != nil {
		same, err = extends(stored, record)
		if errors.Is(err, errNotExtension) {
			s.metrics.recordRejected.Add(1)
			problem(w, http.StatusConflict, "record-not-extension", "Consent record does not extend the stored one",
				err.Error()+". A consent record only grows: send the device's newest record file, unedited.")
			return false
		}
		if err != nil {
			s.log.Warn("stored consent record unreadable; replacing it with the verified new version", "err", err.Error())
		}
	}
	if rec.Finalised() {
		if same {
			return true
		}
		problem(w, http.StatusConflict, "finalised", "Recording already finalised", "This recording was finalised with its final consent record; it takes no new version.")
		return false
	}
	if same {
		return true
	}
	// Subjects first: a crash between the two leaves the person findable
	// (and erasable) rather than stored but unindexed.
	if err := s.cfg.Store.AddSubjects(ctx, rec.ID, s.subjects(v)); err != nil {
		s.internal(w, "indexing the people of the recording", err)
		return false
	}
	if _, err := s.cfg.Objects.Put(ctx, recordKey(rec.ID), bytes.NewReader(record)); err != nil {
		s.internal(w, "storing the consent record", err)
		return false
	}
	return true
}

func (s *Server) statusOf(ctx context.Context, rec Recording) RecordingStatus {
	st := RecordingStatus{ID: rec.ID, Created: rec.CreatedAt, Finalised: rec.Finalised(), Segments: []SegmentInfo{}}
	segs, err := s.cfg.Store.Segments(ctx, rec.ID)
	if err == nil {
		for _, sg := range segs {
			st.Segments = append(st.Segments, SegmentInfo{Index: sg.Index, Size: sg.Size, SHA256: sg.SHA256})
		}
	}
	return st
}

// own loads recording id and checks it belongs to d; on failure it wrote the problem.
func (s *Server) own(w http.ResponseWriter, r *http.Request, d Device, id string) (Recording, bool) {
	if !validRecordingID(id) {
		problem(w, http.StatusNotFound, "no-recording", "No such recording", "This device has no recording with id "+strconv.Quote(id)+"; register it first (POST /v1/recordings).")
		return Recording{}, false
	}
	rec, err := s.cfg.Store.Recording(r.Context(), id)
	if err == nil && rec.DeviceID == d.ID {
		return rec, true
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.internal(w, "looking up the recording", err)
		return rec, false
	}
	// Another device's recording looks exactly like a missing one.
	problem(w, http.StatusNotFound, "no-recording", "No such recording", "This device has no recording with id "+strconv.Quote(id)+"; register it first (POST /v1/recordings).")
	return rec, false
}

func (s *Server) status(w http.ResponseWriter, r *http.Request, d Device) {
	rec, ok := s.own(w, r, d, r.PathValue("id"))
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.statusOf(r.Context(), rec))
}

func (s *Server) listOwn(w http.ResponseWriter, r *http.Request, d Device) {
	recs, err := s.cfg.Store.Recordings(r.Context(), d.ID)
	if err != nil {
		s.internal(w, "listing recordings", err)
		return
	}
	out := []RecordingStatus{}
	for _, rec := range recs {
		out = append(out, RecordingStatus{ID: rec.ID, Created: rec.CreatedAt, Finalised: rec.Finalised(), Segments: []SegmentInfo{}})
	}
	writeJSON(w, http.StatusOK, map[string]any{"recordings": out})
}

func (s *Server) finalise(w http.ResponseWriter, r *http.Request, d Device) {
	id := r.PathValue("id")
	var req FinaliseRequest
	if !readJSON(w, r, &req) {
		return
	}
	if err := CheckSegments(req.Segments); err != nil {
		problem(w, http.StatusBadRequest, "bad-segments", "Invalid segment list", err.Error())
		return
	}
	unlock := s.locks.lock(id)
	defer unlock()
	rec, ok := s.own(w, r, d, id)
	if !ok {
		return
	}
	v, ok := s.verify(w, d, id, req.Record)
	if !ok {
		return
	}
	if s.policyProblem(w, s.checkPolicy(r.Context(), req.Record)) {
		return
	}
	if !v.Final {
		problem(w, http.StatusUnprocessableEntity, "record-not-final", "Consent record is not final", "Finalise only after the recording stopped: the record must end with the stop event.")
		return
	}
	ctx := r.Context()
	stored, err := s.cfg.Store.Segments(ctx, id)
	if err != nil {
		s.internal(w, "listing segments", err)
		return
	}
	have := map[int]Segment{}
	for _, sg := range stored {
		have[sg.Index] = sg
	}
	var missing []string
	for _, sg := range req.Segments {
		h, ok := have[sg.Index]
		if !ok {
			missing = append(missing, strconv.Itoa(sg.Index))
			continue
		}
		if h.SHA256 != sg.SHA256 || h.Size != sg.Size {
			problem(w, http.StatusConflict, "segment-mismatch", "Segment differs from the stored one",
				fmt.Sprintf("Segment %d on the server has sha256 %s and %d bytes, the finalisation names %s and %d bytes; the local copy changed after upload.", sg.Index, h.SHA256, h.Size, sg.SHA256, sg.Size))
			return
		}
		delete(have, sg.Index)
	}
	if len(missing) > 0 {
		problem(w, http.StatusConflict, "segments-missing", "Segments not uploaded yet", "Upload segments "+strings.Join(missing, ", ")+" before finalising.")
		return
	}
	if len(have) > 0 {
		problem(w, http.StatusConflict, "segments-extra", "Server holds segments not in the list", fmt.Sprintf("The server holds %d segment(s) the finalisation does not name; list every uploaded segment.", len(have)))
		return
	}
	if err := s.sealedMatchStored(v, stored); err != nil {
		s.metrics.recordRejected.Add(1)
		problem(w, http.StatusUnprocessableEntity, "record-segments-mismatch", "Final record does not list the stored segments", err.Error())
		return
	}
	if rec.Finalised() {
		if !s.acceptVersion(w, ctx, rec, req.Record, v) {
			return
		}
		writeJSON(w, http.StatusOK, s.statusOf(ctx, rec))
		return
	}
	if !s.acceptVersion(w, ctx, rec, req.Record, v) {
		return
	}
	if err := s.cfg.Store.Finalise(ctx, id, s.now().UTC(), s.retainUntil(rec.CreatedAt, v), len(req.Segments), s.subjects(v)); err != nil {
		s.internal(w, "finalising the recording", err)
		return
	}
	rec.FinalisedAt = s.now()
	writeJSON(w, http.StatusOK, s.statusOf(ctx, rec))
}

func (s *Server) deleteOwn(w http.ResponseWriter, r *http.Request, d Device) {
	id := r.PathValue("id")
	// Unknown, invalid, already deleted and another device's ids all answer
	// 204 alike (deletion is idempotent, and the answer must not tell a
	// device that someone else's id exists); only the owner's is removed.
	if !validRecordingID(id) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	rec, err := s.cfg.Store.Recording(r.Context(), id)
	if errors.Is(err, ErrNotFound) || (err == nil && rec.DeviceID != d.ID) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		s.internal(w, "looking up the recording", err)
		return
	}
	if err := s.removeRecording(r.Context(), id); err != nil {
		s.internal(w, "deleting the recording", err)
		return
	}
	s.audit(r.Context(), d.ID, "recording.delete", "", id)
	w.WriteHeader(http.StatusNoContent)
}

// removeRecording deletes a recording for good: under its lock the objects
// first, then the index entry (leaving a tombstone), so a crash in between
// leaves an entry that a retried delete removes; then, with the lock
// released so a finishing upload can see the recording is gone, it ends
// and removes every upload still in progress for it.
func (s *Server) removeRecording(ctx context.Context, id string) error {
	unlock := s.locks.lock(id)
	err := s.cfg.Objects.DeletePrefix(ctx, "recordings/"+id+"/")
	if err == nil {
		if err = s.cfg.Store.DeleteRecording(ctx, id); errors.Is(err, ErrNotFound) {
			err = nil
		}
	}
	unlock()
	if err != nil {
		return err
	}
	return s.terminateUploadsOf(ctx, id)
}

func (s *Server) download(w http.ResponseWriter, r *http.Request, d Device) {
	id := r.PathValue("id")
	idx, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || idx < 0 {
		problem(w, http.StatusBadRequest, "bad-index", "Invalid segment index", "The segment index must be a non-negative integer.")
		return
	}
	if _, ok := s.own(w, r, d, id); !ok {
		return
	}
	if restricted, err := s.cfg.Store.Restricted(r.Context(), id); err != nil {
		s.internal(w, "checking restrictions", err)
		return
	} else if restricted {
		problem(w, http.StatusForbidden, "restricted", "Processing restricted", "A person in this recording asked to restrict processing; it cannot be downloaded until the administrator lifts the restriction.")
		return
	}
	rc, err := s.cfg.Objects.Get(r.Context(), segKey(id, idx))
	if errors.Is(err, ErrNotFound) {
		problem(w, http.StatusNotFound, "no-segment", "No such segment", fmt.Sprintf("Segment %d of this recording is not on the server.", idx))
		return
	}
	if err != nil {
		s.internal(w, "reading the segment", err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	io.Copy(w, rc)
}

// ---- tus ingest ---------------------------------------------------------------------

// UploadMeta is the parsed tus Upload-Metadata of a segment upload.
type UploadMeta struct {
	Recording string
	Index     int
	SHA256    string
}

// ParseUploadMeta checks the tus metadata of a segment upload.
func ParseUploadMeta(m map[string]string) (UploadMeta, error) {
	var u UploadMeta
	u.Recording = m["recording"]
	if !validRecordingID(u.Recording) {
		return u, errors.New("metadata \"recording\" must be the id of a registered recording")
	}
	idx, err := strconv.Atoi(m["index"])
	if err != nil || idx < 0 || idx > 1<<30 {
		return u, errors.New("metadata \"index\" must be the segment's non-negative index")
	}
	u.Index = idx
	u.SHA256 = m["sha256"]
	if !sha256Re.MatchString(u.SHA256) {
		return u, errors.New("metadata \"sha256\" must be the whole segment's SHA-256 in 64 lower-case hex digits")
	}
	return u, nil
}

func hookDevice(ev tusd.HookEvent) (Device, bool) {
	d, ok := ev.Context.Value(deviceKey).(Device)
	return d, ok
}

func (s *Server) preCreate(ev tusd.HookEvent) (tusd.HTTPResponse, tusd.FileInfoChanges, error) {
	none := tusd.HTTPResponse{}
	d, ok := hookDevice(ev)
	if !ok {
		return none, tusd.FileInfoChanges{}, tusProblem(http.StatusUnauthorized, "unauthenticated", "Device not authenticated", "Send the device token.")
	}
	meta, err := ParseUploadMeta(ev.Upload.MetaData)
	if err != nil {
		return none, tusd.FileInfoChanges{}, tusProblem(http.StatusBadRequest, "bad-upload-metadata", "Invalid upload metadata", err.Error())
	}
	if ev.Upload.SizeIsDeferred || ev.Upload.Size <= 0 {
		return none, tusd.FileInfoChanges{}, tusProblem(http.StatusBadRequest, "bad-upload-length", "Upload-Length required", "Send the segment's exact size in Upload-Length; segments are sealed before upload.")
	}
	rec, err := s.cfg.Store.Recording(ev.Context, meta.Recording)
	if err != nil || rec.DeviceID != d.ID || !validRecordingID(meta.Recording) {
		return none, tusd.FileInfoChanges{}, tusProblem(http.StatusNotFound, "no-recording", "No such recording", "Register the recording with its consent record before uploading its segments.")
	}
	if rec.Finalised() {
		return none, tusd.FileInfoChanges{}, tusProblem(http.StatusConflict, "finalised", "Recording already finalised", "This recording was finalised; it takes no more segments.")
	}
	// Per-device quotas: uploads in progress, then bytes started today.
	open, err := s.deviceUploads(ev.Context, d.ID)
	if err != nil {
		return none, tusd.FileInfoChanges{}, err
	}
	if open >= s.cfg.MaxUploadsPerDevice {
		return none, tusd.FileInfoChanges{}, tusProblem(http.StatusTooManyRequests, "quota-uploads", "Too many uploads in progress",
			fmt.Sprintf("This device has %d uploads in progress, the most the server allows; finish or terminate them first (incomplete uploads expire after %s).", open, s.cfg.UploadTTL))
	}
	day := s.now().UTC().Format("2006-01-02")
	if ok, used, err := s.cfg.Store.ReserveBytes(ev.Context, d.ID, day, ev.Upload.Size, s.cfg.MaxBytesPerDevicePerDay); err != nil {
		return none, tusd.FileInfoChanges{}, err
	} else if !ok {
		return none, tusd.FileInfoChanges{}, tusProblem(http.StatusTooManyRequests, "quota-bytes", "Daily upload quota reached",
			fmt.Sprintf("This device started %d bytes of uploads today (UTC), and %d more would pass the server's daily limit of %d; the rest syncs tomorrow, or ask the administrator to raise the limit.", used, ev.Upload.Size, s.cfg.MaxBytesPerDevicePerDay))
	}
	// Keep only what we need; the device id binds the upload to its owner.
	return none, tusd.FileInfoChanges{ID: newUploadID(d.ID), MetaData: tusd.MetaData{
		"recording": meta.Recording, "index": strconv.Itoa(meta.Index), "sha256": meta.SHA256, "device": d.ID,
	}}, nil
}

func (s *Server) preFinish(ev tusd.HookEvent) (tusd.HTTPResponse, error) {
	d, ok := hookDevice(ev)
	if !ok || ev.Upload.MetaData["device"] != d.ID {
		return tusd.HTTPResponse{}, tusProblem(http.StatusNotFound, "no-upload", "No such upload", "This upload belongs to another device.")
	}
	if err := s.commit(ev.Context, ev.Upload.ID); err != nil {
		var e tusd.Error
		if errors.As(err, &e) {
			return tusd.HTTPResponse{}, e
		}
		s.log.Error("commit of a finished upload failed", "err", err.Error())
		return tusd.HTTPResponse{}, tusProblem(http.StatusInternalServerError, "internal", "Storing the segment failed", "The upload is complete but could not be stored; commit it again (POST /v1/recordings/{id}/segments/{index}/commit) later.")
	}
	return tusd.HTTPResponse{}, nil
}

func (s *Server) preTerminate(ev tusd.HookEvent) (tusd.HTTPResponse, error) {
	d, ok := hookDevice(ev)
	if !ok || ev.Upload.MetaData["device"] != d.ID {
		return tusd.HTTPResponse{}, tusProblem(http.StatusNotFound, "no-upload", "No such upload", "This upload belongs to another device.")
	}
	return tusd.HTTPResponse{}, nil
}

// completeReader reads an upload that holds all its bytes. In S3 a replica
// killed after storing the last byte and before tusd finished the upload
// (s3store completes the multipart upload in FinishUpload) leaves every
// byte stored but no object to read: tusd answers ERR_INCOMPLETE_UPLOAD
// for ever, and a resumed PATCH finds nothing left to send. The upload is
// finished here, once, and read again.
func (s *Server) completeReader(ctx context.Context, up tusd.Upload) (io.ReadCloser, error) {
	rc, err := up.GetReader(ctx)
	var te tusd.Error
	if err == nil || !errors.As(err, &te) || te.ErrorCode != "ERR_INCOMPLETE_UPLOAD" {
		return rc, err
	}
	if ferr := up.FinishUpload(ctx); ferr != nil {
		return nil, fmt.Errorf("finishing an upload whose bytes are all stored: %w", ferr)
	}
	return up.GetReader(ctx)
}

// commit verifies a complete tus upload's SHA-256, moves it into object
// storage and records the segment. A mismatching upload is discarded.
func (s *Server) commit(ctx context.Context, uploadID string) error {
	up, err := s.tusStore.GetUpload(ctx, uploadID)
	if err != nil {
		return tusProblem(http.StatusNotFound, "no-upload", "No such upload", "The upload is unknown (it may already be committed); check the recording's status.")
	}
	info, err := up.GetInfo(ctx)
	if err != nil {
		return err
	}
	if info.SizeIsDeferred || info.Offset != info.Size {
		return tusProblem(http.StatusConflict, "upload-incomplete", "Upload not complete", fmt.Sprintf("The server has %d of %d bytes; PATCH the rest from offset %d.", info.Offset, info.Size, info.Offset))
	}
	meta, err := ParseUploadMeta(info.MetaData)
	if err != nil {
		return tusProblem(http.StatusBadRequest, "bad-upload-metadata", "Invalid upload metadata", err.Error())
	}
	// Hash the received bytes first; only a matching segment reaches object storage.
	rc, err := s.completeReader(ctx, up)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(h, rc)
	rc.Close()
	if err != nil {
		return err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	terminate := func() { s.tusStore.AsTerminatableUpload(up).Terminate(context.WithoutCancel(ctx)) }
	if sum != meta.SHA256 || n != info.Size {
		terminate()
		s.metrics.segmentsRejected.Add(1)
		return tusProblem(http.StatusUnprocessableEntity, "checksum-mismatch", "Segment checksum mismatch",
			fmt.Sprintf("The received %d bytes hash to %s, the upload metadata says %s; the segment was discarded. Upload it again from its sealed file.", n, sum, meta.SHA256))
	}
	// From here on the recording must not change under us: an erasure or a
	// delete that ran while the bytes arrived must win, and nothing may
	// re-create what it removed.
	unlock := s.locks.lock(meta.Recording)
	defer unlock()
	rec, err := s.cfg.Store.Recording(ctx, meta.Recording)
	if errors.Is(err, ErrNotFound) || (err == nil && rec.DeviceID != info.MetaData["device"]) {
		terminate()
		return tusProblem(http.StatusGone, "deleted", "Recording no longer exists",
			"The recording of this upload was deleted or erased while the segment was uploading; the segment was discarded. Delete the local copy if the recording was erased.")
	}
	if err != nil {
		return err
	}
	if have, err := s.cfg.Store.Segments(ctx, meta.Recording); err == nil {
		for _, sg := range have {
			if sg.Index == meta.Index && sg.SHA256 != sum {
				terminate()
				return tusProblem(http.StatusConflict, "segment-exists", "Segment already stored with other content", fmt.Sprintf("Segment %d of this recording is already stored with a different SHA-256; segments never change once sealed.", meta.Index))
			}
			if sg.Index == meta.Index && rec.Finalised() {
				terminate() // the same bytes again after finalisation: already stored
				return nil
			}
		}
	}
	if rec.Finalised() {
		terminate()
		return tusProblem(http.StatusConflict, "finalised", "Recording already finalised", "This recording was finalised; it takes no more segments.")
	}
	dev, err := s.cfg.Store.Device(ctx, rec.DeviceID)
	if err != nil {
		return err
	}
	v, err := s.latestVerified(ctx, meta.Recording, dev)
	if err == nil {
		err = s.checkSealedSegment(v, meta.Index, sum, n)
	}
	if err != nil {
		s.metrics.segmentsRejected.Add(1)
		return tusProblem(http.StatusUnprocessableEntity, "segment-not-in-record", "Segment not bound to the consent record",
			err.Error()+". The upload is kept: register the newer record, then commit it again (POST /v1/recordings/{id}/segments/{index}/commit).")
	}
	rc, err = up.GetReader(ctx)
	if err != nil {
		return err
	}
	// The object is written from a second read and checked again, so what is
	// stored is exactly what was verified.
	h2 := sha256.New()
	key := segKey(meta.Recording, meta.Index)
	_, err = s.cfg.Objects.Put(ctx, key, SizedReader{Reader: io.TeeReader(rc, h2), N: n})
	rc.Close()
	if err != nil {
		return err
	}
	if hex.EncodeToString(h2.Sum(nil)) != sum {
		s.cfg.Objects.DeletePrefix(ctx, key)
		return fmt.Errorf("upload %s changed while it was stored", uploadID)
	}
	err = s.cfg.Store.PutSegment(ctx, Segment{RecordingID: meta.Recording, Index: meta.Index, Size: n, SHA256: sum})
	if errors.Is(err, ErrExists) {
		terminate()
		return tusProblem(http.StatusConflict, "segment-exists", "Segment already stored with other content", fmt.Sprintf("Segment %d of this recording is already stored with a different SHA-256; segments never change once sealed.", meta.Index))
	}
	if err != nil {
		return err
	}
	terminate()
	s.metrics.segmentsStored.Add(1)
	s.metrics.bytesStored.Add(n)
	return nil
}

type CommitRequest = api.CommitRequest

func (s *Server) commitEndpoint(w http.ResponseWriter, r *http.Request, d Device) {
	id := r.PathValue("id")
	if _, ok := s.own(w, r, d, id); !ok {
		return
	}
	var req CommitRequest
	if !readJSON(w, r, &req) {
		return
	}
	if !validUploadID(req.Upload) {
		problem(w, http.StatusBadRequest, "bad-upload-id", "Invalid upload id", "upload must be the id at the end of the tus upload URL.")
		return
	}
	up, err := s.tusStore.GetUpload(r.Context(), req.Upload)
	if err == nil {
		info, _ := up.GetInfo(r.Context())
		if info.MetaData["device"] != d.ID || info.MetaData["recording"] != id || info.MetaData["index"] != r.PathValue("index") {
			problem(w, http.StatusNotFound, "no-upload", "No such upload", "This device has no such upload for this segment.")
			return
		}
	}
	if err := s.commit(r.Context(), req.Upload); err != nil {
		var e tusd.Error
		if errors.As(err, &e) {
			for k, v := range e.HTTPResponse.Header {
				w.Header().Set(k, v)
			}
			w.WriteHeader(e.HTTPResponse.StatusCode)
			io.WriteString(w, e.HTTPResponse.Body)
			return
		}
		s.internal(w, "committing the segment", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) audit(ctx context.Context, actor, action, subject, detail string) {
	if err := s.cfg.Store.AddAudit(context.WithoutCancel(ctx), AuditEntry{Time: s.now().UTC(), Actor: actor, Action: action, Subject: subject, Detail: detail}); err != nil {
		s.log.Error("writing the audit log failed", "action", action, "err", err.Error())
	}
}

// ownUpload lets a device reach (HEAD, PATCH, DELETE, …) only its own tus
// uploads. The method checked is the method tusd executes: tusd honours
// X-HTTP-Method-Override on POST, so that header is refused outright.
// Unknown ids, malformed ids and other devices' uploads answer alike.
func (s *Server) ownUpload(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["X-Http-Method-Override"]; ok {
			w.Header().Set("Tus-Resumable", "1.0.0")
			problem(w, http.StatusBadRequest, "method-override", "Method override not accepted",
				"X-HTTP-Method-Override is not accepted by this server; send the real HTTP method (HEAD, PATCH, DELETE).")
			return
		}
		id := strings.TrimPrefix(r.URL.Path, "/v1/uploads/")
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodPost && id == "" {
			// One creation per device at a time, on every replica (the
			// recording lock, keyed by the device; no recording id has a
			// colon): preCreate counts the device's uploads in progress and
			// the new one exists before the next creation counts.
			d := r.Context().Value(deviceKey).(Device)
			unlock := s.locks.lock("uploads-of:" + d.ID)
			defer unlock()
			next.ServeHTTP(w, r)
			return
		}
		d := r.Context().Value(deviceKey).(Device)
		var info tusd.FileInfo
		err := errors.New("malformed upload id")
		if validUploadID(id) {
			info, err = s.uploadOwnerInfo(r.Context(), id)
		}
		if err != nil || info.MetaData["device"] != d.ID {
			w.Header().Set("Tus-Resumable", "1.0.0")
			w.Header().Set("Cache-Control", "no-store")
			if r.Method == http.MethodHead {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			problem(w, http.StatusNotFound, "no-upload", "No such upload", "This device has no upload with this id; create a new one with POST /v1/uploads/.")
			return
		}
		next.ServeHTTP(w, r)
	})
}
