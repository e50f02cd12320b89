package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/testenv"
)

// TestDeleteMeansDelete_RecordingLockHoldsAcrossReplicas: two assentd on one
// PostgreSQL serialise the same recording (an erasure cannot interleave with
// another replica's commit, two registrations cannot both win); other
// recordings are not held up; a dead replica's lock is released.
func TestDeleteMeansDelete_RecordingLockHoldsAcrossReplicas(t *testing.T) {
	dsn := testenv.RequirePostgres(t)
	open := func() *sqlStore {
		st, err := OpenPostgres(dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st.(*sqlStore)
	}
	a, b := open(), open()
	var _ RecordingLocker = a
	id := "lock-" + time.Now().Format("150405.000000000")

	unlockA, err := a.LockRecording(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	if u, err := b.LockRecording(ctx, id); err == nil {
		u()
		t.Fatal("a second replica took the lock of a recording the first one holds")
	} else if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("waiting for the lock: %v", err)
	}
	cancel()
	u2, err := b.LockRecording(context.Background(), id+"-other")
	if err != nil {
		t.Fatalf("another recording was held up: %v", err)
	}
	u2()

	got := make(chan func(), 1)
	go func() {
		u, err := b.LockRecording(context.Background(), id)
		if err != nil {
			t.Error(err)
			u = func() {}
		}
		got <- u
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case <-got:
		t.Fatal("the lock was taken while the first replica held it")
	default:
	}
	unlockA()
	select {
	case u := <-got:
		u()
	case <-time.After(10 * time.Second):
		t.Fatal("the second replica never got the lock after the first released it")
	}

	// A replica that dies (its database session ends) releases its locks.
	c := open()
	if _, err := c.LockRecording(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	var ended int
	if err := a.db.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 2 AND classid = $1::oid AND granted`, recordingLockSpace).Scan(&ended); err != nil || ended != 1 {
		t.Fatalf("ending the session that holds the lock: %v (%d sessions)", err, ended)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	u3, err := b.LockRecording(ctx2, id)
	if err != nil {
		t.Fatalf("the lock of a replica that went away was not released: %v", err)
	}
	u3()
}
