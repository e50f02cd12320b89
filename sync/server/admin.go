package server

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/sync/api"
)

type SubjectRequest = api.SubjectRequest

// ParseSubjectRequest checks a subject request body.
func ParseSubjectRequest(body []byte) (SubjectRequest, error) {
	var req SubjectRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("body must be {\"email\": \"...\"}: %v", err)
	}
	e := NormaliseEmail(req.Email)
	if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
		return req, errors.New("email must be a plain e-mail address such as ann@example.com")
	}
	req.Email = e
	return req, nil
}

func (s *Server) subjectReq(w http.ResponseWriter, r *http.Request) (string, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4096))
	if err != nil {
		problem(w, http.StatusRequestEntityTooLarge, "too-large", "Body too large", "A subject request is {\"email\": \"...\"}.")
		return "", false
	}
	req, err := ParseSubjectRequest(body)
	if err != nil {
		problem(w, http.StatusBadRequest, "bad-subject", "Invalid subject request", err.Error())
		return "", false
	}
	return s.subjectHash(req.Email), true
}

type AdminRecording = api.AdminRecording

func (s *Server) adminRecs(ctx context.Context, recs []Recording) []AdminRecording {
	out := []AdminRecording{}
	for _, r := range recs {
		res, _ := s.cfg.Store.Restricted(ctx, r.ID)
		segs, _ := s.cfg.Store.Segments(ctx, r.ID)
		out = append(out, AdminRecording{ID: r.ID, DeviceID: r.DeviceID, Created: r.CreatedAt, Finalised: r.Finalised(), RetainUntil: r.RetainUntil, Segments: len(segs), Restricted: res})
	}
	return out
}

func (s *Server) subjectList(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.subjectReq(w, r)
	if !ok {
		return
	}
	recs, err := s.cfg.Store.RecordingsBySubject(r.Context(), sub)
	if err != nil {
		s.internal(w, "listing the subject's recordings", err)
		return
	}
	s.audit(r.Context(), "admin", "subject.list", sub, strconv.Itoa(len(recs))+" recordings")
	writeJSON(w, http.StatusOK, map[string]any{"subject": sub, "recordings": s.adminRecs(r.Context(), recs)})
}

const exportReadme = `Assent data export
==================

This archive holds every recording in which the person of this request took
part, as stored by the organisation's Assent sync server:

  manifest.json                      the recordings, their segments and SHA-256s
  recordings/<id>/record.json        the signed, hash-chained consent record
  recordings/<id>/notices/<sha256>.md  the exact notice texts the record cites
                                     (the SHA-256 of each file is its name)
  recordings/<id>/seg-NNNNNN.age     the audio segments, encrypted with age

The audio is encrypted; the server holds no key that opens it. The
organisation decrypts it with its escrow identity (an age X25519 key kept
offline), for example with the stock age tool:

  for f in recordings/<id>/seg-*.age; do age -d -i escrow-key.txt "$f"; done > <id>.opus

The decrypted segments, concatenated in index order, are one Ogg Opus file
that any player (ffplay, VLC, mpv) plays. Check each file's SHA-256 against
manifest.json before decrypting. The consent record is JSON (see
docs/consent-record.md of Assent); it shows, for every recorded span, who was
present and which notice each of them accepted.
`

func (s *Server) subjectExport(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.subjectReq(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	recs, err := s.cfg.Store.RecordingsBySubject(ctx, sub)
	if err != nil {
		s.internal(w, "listing the subject's recordings", err)
		return
	}
	type mseg struct {
		Index  int    `json:"index"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
		File   string `json:"file"`
	}
	type mrec struct {
		AdminRecording
		Record   string   `json:"record"`
		Notices  []string `json:"notice_files"`
		Segments []mseg   `json:"segment_files"`
	}
	manifest := struct {
		Exported   time.Time `json:"exported"`
		Recordings []mrec    `json:"recordings"`
	}{Exported: s.now().UTC(), Recordings: []mrec{}}
	s.audit(ctx, "admin", "subject.export", sub, strconv.Itoa(len(recs))+" recordings")
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="assent-export.zip"`)
	zw := zip.NewWriter(w)
	copyObj := func(key string) error {
		rc, err := s.cfg.Objects.Get(ctx, key)
		if err != nil {
			return err
		}
		defer rc.Close()
		f, err := zw.CreateHeader(&zip.FileHeader{Name: key, Method: zip.Store, Modified: s.now()})
		if err != nil {
			return err
		}
		_, err = io.Copy(f, rc)
		return err
	}
	ars := s.adminRecs(ctx, recs)
	for i, rec := range recs {
		m := mrec{AdminRecording: ars[i], Record: recordKey(rec.ID), Notices: []string{}, Segments: []mseg{}}
		if err := copyObj(recordKey(rec.ID)); err != nil {
			s.log.Error("export: reading a record failed", "err", err.Error())
			zw.Close()
			return // the truncated zip fails to open; the admin retries
		}
		// The notice texts the record cites (absent for recordings synced
		// by devices older than the stored texts).
		if data, err := s.storedRecord(ctx, rec.ID); err == nil && data != nil {
			if cr, err := consent.Parse(data); err == nil {
				for _, t := range cr.Notice.Texts {
					key := noticeKey(rec.ID, t.SHA256)
					err := copyObj(key)
					if errors.Is(err, ErrNotFound) {
						continue
					}
					if err != nil {
						s.log.Error("export: reading a notice text failed", "err", err.Error())
						zw.Close()
						return
					}
					m.Notices = append(m.Notices, key)
				}
			}
		}
		segs, _ := s.cfg.Store.Segments(ctx, rec.ID)
		for _, sg := range segs {
			if err := copyObj(segKey(rec.ID, sg.Index)); err != nil {
				s.log.Error("export: reading a segment failed", "err", err.Error())
				return
			}
			m.Segments = append(m.Segments, mseg{Index: sg.Index, Size: sg.Size, SHA256: sg.SHA256, File: segKey(rec.ID, sg.Index)})
		}
		manifest.Recordings = append(manifest.Recordings, m)
	}
	if f, err := zw.Create("manifest.json"); err == nil {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		enc.Encode(manifest)
	}
	if f, err := zw.Create("README.txt"); err == nil {
		io.WriteString(f, exportReadme)
	}
	zw.Close()
}

func (s *Server) subjectErase(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.subjectReq(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	recs, err := s.cfg.Store.RecordingsBySubject(ctx, sub)
	if err != nil {
		s.internal(w, "listing the subject's recordings", err)
		return
	}
	erased := []string{}
	for _, rec := range recs {
		if err := s.removeRecording(ctx, rec.ID); err != nil {
			s.audit(ctx, "admin", "subject.erase", sub, fmt.Sprintf("partial: %d of %d recordings erased", len(erased), len(recs)))
			s.internal(w, "erasing a recording", err)
			return
		}
		erased = append(erased, rec.ID)
	}
	s.audit(ctx, "admin", "subject.erase", sub, strconv.Itoa(len(erased))+" recordings erased")
	writeJSON(w, http.StatusOK, map[string]any{"subject": sub, "erased": erased})
}

func (s *Server) subjectRestrict(w http.ResponseWriter, r *http.Request) { s.restrict(w, r, true) }
func (s *Server) subjectLift(w http.ResponseWriter, r *http.Request)     { s.restrict(w, r, false) }

func (s *Server) restrict(w http.ResponseWriter, r *http.Request, on bool) {
	sub, ok := s.subjectReq(w, r)
	if !ok {
		return
	}
	if err := s.cfg.Store.SetRestricted(r.Context(), sub, on); err != nil {
		s.internal(w, "changing the restriction", err)
		return
	}
	action := "subject.restrict"
	if !on {
		action = "subject.lift-restriction"
	}
	s.audit(r.Context(), "admin", action, sub, "")
	writeJSON(w, http.StatusOK, map[string]any{"subject": sub, "restricted": on})
}

func (s *Server) adminRecord(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rc, err := s.cfg.Objects.Get(r.Context(), recordKey(id))
	if errors.Is(err, ErrNotFound) {
		problem(w, http.StatusNotFound, "no-recording", "No such recording", "No consent record is stored for recording "+strconv.Quote(id)+".")
		return
	}
	if err != nil {
		s.internal(w, "reading the consent record", err)
		return
	}
	defer rc.Close()
	s.audit(r.Context(), "admin", "record.view", "", id)
	w.Header().Set("Content-Type", "application/json")
	io.Copy(w, rc)
}

func (s *Server) newCode(w http.ResponseWriter, r *http.Request) {
	code, exp, err := s.NewEnrolmentCode(r.Context())
	if err != nil {
		s.internal(w, "creating an enrolment code", err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"code": code, "expires": exp})
}

// NewEnrolmentCode creates a one-time enrolment code (stored hashed) and audits it.
func (s *Server) NewEnrolmentCode(ctx context.Context) (string, time.Time, error) {
	return NewEnrolmentCode(ctx, s.cfg.Store, s.now().Add(s.cfg.EnrolmentCodeTTL))
}

// NewEnrolmentCode creates a one-time code in st valid until expires; the
// `assentd enroll` command uses it directly on the database.
func NewEnrolmentCode(ctx context.Context, st Store, expires time.Time) (string, time.Time, error) {
	code := randomToken(15)
	if err := st.AddEnrolmentCode(ctx, hashToken(code), expires); err != nil {
		return "", expires, err
	}
	st.AddAudit(ctx, AuditEntry{Time: time.Now().UTC(), Actor: "admin", Action: "enrolment-code.create", Detail: "expires " + expires.UTC().Format(time.RFC3339)})
	return code, expires, nil
}

func (s *Server) purgeEndpoint(w http.ResponseWriter, r *http.Request) {
	ids, err := s.Purge(r.Context())
	if err != nil {
		s.internal(w, "retention purge", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"purged": ids})
}

// Purge deletes every recording whose retention ended and audits it.
func (s *Server) Purge(ctx context.Context) ([]string, error) {
	recs, err := s.cfg.Store.Expired(ctx, s.now())
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for _, rec := range recs {
		if err := s.removeRecording(ctx, rec.ID); err != nil {
			return ids, err
		}
		ids = append(ids, rec.ID)
	}
	if len(ids) > 0 {
		s.audit(ctx, "retention", "retention.purge", "", strconv.Itoa(len(ids))+" recordings purged")
		s.log.Info("retention purge", "recordings", len(ids))
	}
	return ids, nil
}

// RunPurge runs Purge every interval until ctx ends.
func (s *Server) RunPurge(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Purge(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("retention purge failed; will retry", "err", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) auditList(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	es, err := s.cfg.Store.Audit(r.Context(), limit)
	if err != nil {
		s.internal(w, "reading the audit log", err)
		return
	}
	type entry struct {
		Time    time.Time `json:"time"`
		Actor   string    `json:"actor"`
		Action  string    `json:"action"`
		Subject string    `json:"subject,omitempty"`
		Detail  string    `json:"detail,omitempty"`
	}
	out := []entry{}
	for _, e := range es {
		out = append(out, entry(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out})
}
