package server

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/testenv"
)

// The one store suite: every backend must pass it.

func TestStoreSQLite(t *testing.T) {
	storeSuite(t, func(t *testing.T) Store {
		st, err := OpenSQLite(filepath.Join(t.TempDir(), "index.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

func TestStorePostgres(t *testing.T) {
	testenv.RequirePostgres(t)
	storeSuite(t, func(t *testing.T) Store { return freshPostgres(t) })
}

// freshPostgres opens the store in a schema of its own, dropped afterwards.
func freshPostgres(t testing.TB) Store {
	t.Helper()
	sdsn, _ := testenv.PostgresSchema(t, "t_")
	st, err := OpenPostgres(sdsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func storeSuite(t *testing.T, open func(t *testing.T) Store) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t.Run("EnrolmentCodes", func(t *testing.T) {
		st := open(t)
		ctx := t.Context()
		if err := st.AddEnrolmentCode(ctx, "h1", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		st.AddEnrolmentCode(ctx, "h2", t0.Add(time.Hour))
		if err := st.UseEnrolmentCode(ctx, "h1", t0); err != nil {
			t.Fatal(err)
		}
		if err := st.UseEnrolmentCode(ctx, "h1", t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second use: %v", err)
		}
		if err := st.UseEnrolmentCode(ctx, "h2", t0.Add(2*time.Hour)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired use: %v", err)
		}
		if err := st.UseEnrolmentCode(ctx, "nope", t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown code: %v", err)
		}
	})
	t.Run("Devices", func(t *testing.T) {
		st := open(t)
		ctx := t.Context()
		d := Device{ID: "d1", Name: "laptop", SigningKey: []byte{1, 2, 3, 250}, AgeRecipient: "age1x", TokenHash: "th1", EnrolledAt: t0}
		if err := st.AddDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
		if err := st.AddDevice(ctx, d); !errors.Is(err, ErrExists) {
			t.Fatalf("duplicate device: %v", err)
		}
		got, err := st.DeviceByToken(ctx, "th1")
		if err != nil || got.ID != "d1" || string(got.SigningKey) != string(d.SigningKey) || !got.EnrolledAt.Equal(t0) {
			t.Fatalf("DeviceByToken: %+v %v", got, err)
		}
		if _, err := st.DeviceByToken(ctx, "other"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown token: %v", err)
		}
		if got, err := st.Device(ctx, "d1"); err != nil || got.AgeRecipient != "age1x" {
			t.Fatalf("Device: %+v %v", got, err)
		}
	})
	t.Run("RecordingsSegmentsSubjects", func(t *testing.T) {
		st := open(t)
		ctx := t.Context()
		r1 := Recording{ID: "r1", DeviceID: "d1", CreatedAt: t0, RetainUntil: t0.AddDate(3, 0, 0)}
		r2 := Recording{ID: "r2", DeviceID: "d1", CreatedAt: t0.Add(time.Minute), RetainUntil: t0.AddDate(1, 0, 0)}
		r3 := Recording{ID: "r3", DeviceID: "d2", CreatedAt: t0, RetainUntil: t0.AddDate(3, 0, 0)}
		for _, c := range []struct {
			r   Recording
			sub []string
		}{{r1, []string{"sa", "sb", "sa"}}, {r2, []string{"sa"}}, {r3, []string{"sc"}}} {
			if err := st.AddRecording(ctx, c.r, c.sub); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.AddRecording(ctx, r1, nil); !errors.Is(err, ErrExists) {
			t.Fatalf("duplicate recording: %v", err)
		}
		if rs, _ := st.Recordings(ctx, "d1"); len(rs) != 2 || rs[0].ID != "r1" || rs[1].ID != "r2" {
			t.Fatalf("Recordings(d1) = %+v", rs)
		}
		if err := st.PutSegment(ctx, Segment{RecordingID: "r1", Index: 1, Size: 10, SHA256: "aa"}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutSegment(ctx, Segment{RecordingID: "r1", Index: 1, Size: 10, SHA256: "aa"}); err != nil {
			t.Fatalf("same segment again: %v", err)
		}
		if err := st.PutSegment(ctx, Segment{RecordingID: "r1", Index: 1, Size: 10, SHA256: "bb"}); !errors.Is(err, ErrExists) {
			t.Fatalf("changed segment: %v", err)
		}
		st.PutSegment(ctx, Segment{RecordingID: "r1", Index: 0, Size: 5, SHA256: "cc"})
		if segs, _ := st.Segments(ctx, "r1"); len(segs) != 2 || segs[0].Index != 0 || segs[1].SHA256 != "aa" || segs[1].Size != 10 {
			t.Fatalf("Segments = %+v", segs)
		}
		if rs, _ := st.RecordingsBySubject(ctx, "sa"); len(rs) != 2 {
			t.Fatalf("by subject sa: %+v", rs)
		}
		if err := st.Finalise(ctx, "r1", t0.Add(time.Hour), t0.AddDate(2, 0, 0), 2, []string{"sb"}); err != nil {
			t.Fatal(err)
		}
		if err := st.Finalise(ctx, "nope", t0, t0, 1, nil); !errors.Is(err, ErrNotFound) {
			t.Fatalf("finalise unknown: %v", err)
		}
		got, _ := st.Recording(ctx, "r1")
		if !got.Finalised() || got.Segments != 2 || !got.RetainUntil.Equal(t0.AddDate(2, 0, 0)) {
			t.Fatalf("after Finalise: %+v", got)
		}
		// The subject index is the union over every accepted version:
		// finalising adds sb and keeps sa.
		if rs, _ := st.RecordingsBySubject(ctx, "sa"); len(rs) != 2 {
			t.Fatalf("a subject of an earlier version was dropped at finalisation: %+v", rs)
		}
		if rs, _ := st.RecordingsBySubject(ctx, "sb"); len(rs) != 1 || rs[0].ID != "r1" {
			t.Fatalf("by subject sb after Finalise: %+v", rs)
		}
		if err := st.AddSubjects(ctx, "r1", []string{"sd", "sd", "sb"}); err != nil {
			t.Fatal(err)
		}
		if rs, _ := st.RecordingsBySubject(ctx, "sd"); len(rs) != 1 || rs[0].ID != "r1" {
			t.Fatalf("by subject sd after AddSubjects: %+v", rs)
		}
		if err := st.AddSubjects(ctx, "nope", []string{"sc"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("AddSubjects to an unknown recording: %v", err)
		}
		// Restriction follows the subject.
		if on, _ := st.Restricted(ctx, "r1"); on {
			t.Fatal("restricted before any restriction")
		}
		st.SetRestricted(ctx, "sb", true)
		st.SetRestricted(ctx, "sb", true)
		if on, _ := st.Restricted(ctx, "r1"); !on {
			t.Fatal("not restricted")
		}
		if on, _ := st.Restricted(ctx, "r3"); on {
			t.Fatal("restriction leaked")
		}
		st.SetRestricted(ctx, "sb", false)
		if on, _ := st.Restricted(ctx, "r1"); on {
			t.Fatal("still restricted after lifting")
		}
		if ex, _ := st.Expired(ctx, t0.AddDate(1, 6, 0)); len(ex) != 1 || ex[0].ID != "r2" {
			t.Fatalf("Expired = %+v", ex)
		}
		if err := st.DeleteRecording(ctx, "r1"); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteRecording(ctx, "r1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if gone, err := st.Deleted(ctx, "r1"); err != nil || !gone {
			t.Fatalf("no tombstone after delete: %v %v", gone, err)
		}
		if gone, _ := st.Deleted(ctx, "r2"); gone {
			t.Fatal("tombstone for a recording never deleted")
		}
		if _, err := st.Recording(ctx, "r1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted recording: %v", err)
		}
		if segs, _ := st.Segments(ctx, "r1"); len(segs) != 0 {
			t.Fatal("segments survive delete")
		}
		if rs, _ := st.RecordingsBySubject(ctx, "sb"); len(rs) != 0 {
			t.Fatal("subjects survive delete")
		}
	})
	t.Run("ServerStore", func(t *testing.T) {
		st := open(t)
		ctx := t.Context()
		st.AddDevice(ctx, Device{ID: "d1", Name: "a", SigningKey: []byte{1, 2}, AgeRecipient: "age1x", TokenHash: "t1", EnrolledAt: t0})
		st.AddDevice(ctx, Device{ID: "d2", Name: "b", SigningKey: []byte{3}, AgeRecipient: "age1y", TokenHash: "t2", EnrolledAt: t0.Add(time.Second)})
		// Token issue times and rotation.
		if at, err := st.TokenIssued(ctx, "d1"); err != nil || !at.Equal(t0) {
			t.Fatalf("TokenIssued before any rotation: %v %v", at, err)
		}
		if err := st.RotateToken(ctx, "d1", "t1", "t1b", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := st.RotateToken(ctx, "d1", "t1", "t1c", t0.Add(2*time.Hour)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("rotating a replaced token: %v", err)
		}
		if at, _ := st.TokenIssued(ctx, "d1"); !at.Equal(t0.Add(time.Hour)) {
			t.Fatalf("TokenIssued after rotation: %v", at)
		}
		if _, err := st.DeviceByToken(ctx, "t1b"); err != nil {
			t.Fatal(err)
		}
		// A staged token: the current one keeps working until the staged
		// one is used; staging again replaces an unused one; the first use
		// promotes it and ends the old one.
		ss := st
		if err := ss.StageToken(ctx, "d2", "t2", "t2x", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := ss.StageToken(ctx, "d2", "t2", "t2y", t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := ss.StageToken(ctx, "d2", "t2-not-current", "t2z", t0.Add(2*time.Hour)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("staging with a token that is not the current one: %v", err)
		}
		if d, err := st.DeviceByToken(ctx, "t2"); err != nil || d.ID != "d2" {
			t.Fatalf("the current token while a renewal is staged: %+v %v", d, err)
		}
		if _, err := st.DeviceByToken(ctx, "t2x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a replaced staged token still works: %v", err)
		}
		if d, err := st.DeviceByToken(ctx, "t2y"); err != nil || d.ID != "d2" || d.TokenHash != "t2y" {
			t.Fatalf("the staged token's first use: %+v %v", d, err)
		}
		if _, err := st.DeviceByToken(ctx, "t2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the old token after the renewed one was used: %v", err)
		}
		if at, _ := st.TokenIssued(ctx, "d2"); !at.Equal(t0.Add(2 * time.Hour)) {
			t.Fatalf("TokenIssued after a promotion: %v", at)
		}
		// Revoking a device ends a staged token with it.
		if err := ss.StageToken(ctx, "d1", "t1b", "t1s", t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		// Revocation.
		if err := st.RevokeDevice(ctx, "d1", "test", t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DeviceByToken(ctx, "t1s"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a staged token of a revoked device works: %v", err)
		}
		if err := st.RevokeDevice(ctx, "nope", "test", t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoke unknown: %v", err)
		}
		if _, err := st.DeviceByToken(ctx, "t1b"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a revoked device's token still works: %v", err)
		}
		ds, err := st.Devices(ctx)
		if err != nil || len(ds) != 2 || ds[0].ID != "d1" || !ds[0].Revoked.Equal(t0.Add(3*time.Hour)) || !ds[1].Revoked.IsZero() {
			t.Fatalf("Devices = %+v, %v", ds, err)
		}
		// Daily byte quota.
		if ok, used, err := st.ReserveBytes(ctx, "d2", "2026-01-01", 60, 100); !ok || used != 60 || err != nil {
			t.Fatalf("reserve 60 of 100: %v %d %v", ok, used, err)
		}
		if ok, used, _ := st.ReserveBytes(ctx, "d2", "2026-01-01", 41, 100); ok || used != 60 {
			t.Fatalf("reserve 41 more of 100: %v %d", ok, used)
		}
		if ok, _, _ := st.ReserveBytes(ctx, "d2", "2026-01-02", 100, 100); !ok {
			t.Fatal("a new day has its own quota")
		}
		// Policy versions.
		if err := st.AddPolicy(ctx, StoredPolicy{Version: 1, Issued: t0, Policy: []byte(`{"version":1}`), KeyID: "k", Signature: "s"}); err != nil {
			t.Fatal(err)
		}
		if err := st.AddPolicy(ctx, StoredPolicy{Version: 1, Issued: t0, Policy: []byte(`{}`), KeyID: "k", Signature: "s"}); !errors.Is(err, ErrExists) {
			t.Fatalf("a second version 1: %v", err)
		}
		ps, err := st.Policies(ctx)
		if err != nil || len(ps) != 1 || string(ps[0].Policy) != `{"version":1}` || !ps[0].Issued.Equal(t0) {
			t.Fatalf("Policies = %+v, %v", ps, err)
		}
	})
	t.Run("Audit", func(t *testing.T) {
		st := open(t)
		ctx := t.Context()
		for i, a := range []string{"one", "two", "three"} {
			if err := st.AddAudit(ctx, AuditEntry{Time: t0.Add(time.Duration(i) * time.Second), Actor: "admin", Action: a, Subject: "s", Detail: "d"}); err != nil {
				t.Fatal(err)
			}
		}
		es, err := st.Audit(ctx, 2)
		if err != nil || len(es) != 2 || es[0].Action != "three" || !es[0].Time.Equal(t0.Add(2*time.Second)) {
			t.Fatalf("Audit = %+v %v", es, err)
		}
		if err := st.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestEndToEndPostgres runs the device and admin flows on PostgreSQL.
func TestEndToEndPostgres(t *testing.T) {
	testenv.RequirePostgres(t)
	h := newHarnessWith(t, freshPostgres(t))
	d := h.enrol(1)
	h.fullRecording(d, "rec-1", 2, "ann@example.com")
	h.fullRecording(d, "rec-2", 1, "bob@example.com")
	resp, body := h.do("POST", "/v1/admin/subjects/erase", testAdmin, map[string]string{"email": "ann@example.com"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), "rec-1") {
		t.Fatalf("erase on PostgreSQL: %d %s", resp.StatusCode, body)
	}
	assertGone(t, h, "rec-1")
	if _, err := h.st.Recording(t.Context(), "rec-2"); err != nil {
		t.Fatal(err)
	}
	h.now = h.now.AddDate(4, 0, 0)
	if ids, err := h.srv.Purge(t.Context()); err != nil || len(ids) != 1 || ids[0] != "rec-2" {
		t.Fatalf("purge on PostgreSQL: %v %v", ids, err)
	}
}
