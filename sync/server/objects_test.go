package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"

	"github.com/assent-app/assent/internal/testenv"
	"github.com/minio/minio-go/v7"
)

func objectsSuite(t *testing.T, o Objects) {
	ctx := t.Context()
	for i, k := range []string{"recordings/a/record.json", "recordings/a/seg-000001.age", "recordings/a/seg-000002.age", "recordings/ab/seg-000001.age", "recordings/b/x"} {
		if n, err := o.Put(ctx, k, strings.NewReader(strings.Repeat("x", i+1))); err != nil || n != int64(i+1) {
			t.Fatalf("put %s: %d %v", k, n, err)
		}
	}
	o.Put(ctx, "recordings/a/seg-000001.age", strings.NewReader("replaced"))
	rc, err := o.Get(ctx, "recordings/a/seg-000001.age")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "replaced" {
		t.Fatalf("get gave %q", b)
	}
	if _, err := o.Get(ctx, "recordings/none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing object: %v", err)
	}
	if err := o.DeletePrefix(ctx, "recordings/a/"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"recordings/a/record.json", "recordings/a/seg-000001.age", "recordings/a/seg-000002.age"} {
		if _, err := o.Get(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s survived DeletePrefix: %v", k, err)
		}
	}
	for _, k := range []string{"recordings/ab/seg-000001.age", "recordings/b/x"} {
		rc, err := o.Get(ctx, k)
		if err != nil {
			t.Fatalf("DeletePrefix removed %s: %v", k, err)
		}
		rc.Close()
	}
	if err := o.DeletePrefix(ctx, "recordings/nothing/"); err != nil {
		t.Fatalf("deleting nothing: %v", err)
	}
}

func TestObjectsLocal(t *testing.T) { objectsSuite(t, LocalObjects{Dir: t.TempDir()}) }

// realS3 connects to the versitygw started by scripts/with-real-parts.sh, in a
// bucket of this test's own (removed with its objects afterwards).
func realS3(t *testing.T) *S3Objects {
	t.Helper()
	env := testenv.RequireS3(t)
	b := make([]byte, 5)
	rand.Read(b)
	bucket := "assent-" + hex.EncodeToString(b)
	o, err := NewS3Objects(S3Config{Endpoint: env.Endpoint, Bucket: bucket, AccessKey: env.AccessKey, SecretKey: env.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.EnsureBucket(t.Context(), "us-east-1"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		o.DeletePrefix(ctx, "")
		o.c.RemoveBucket(ctx, bucket)
	})
	return o
}

// countObjects lists what the bucket holds.
func countObjects(t *testing.T, o *S3Objects) []string {
	t.Helper()
	var keys []string
	for obj := range o.c.ListObjects(t.Context(), o.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	return keys
}

// The store suite against a real S3-compatible server (versitygw), plus the
// failures an operator meets: wrong secret, missing bucket, many keys.
func TestObjectsS3(t *testing.T) {
	o := realS3(t)
	objectsSuite(t, o)
	if err := o.Ping(t.Context()); err != nil {
		t.Fatalf("ping a reachable bucket: %v", err)
	}
	// More keys than one delete batch or list page (1000).
	ctx := t.Context()
	before := len(countObjects(t, o))
	var wg gosync.WaitGroup
	errs := make(chan error, 1001)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < 1001; i += 8 {
				if _, err := o.Put(ctx, fmt.Sprintf("recordings/many/seg-%06d.age", i), strings.NewReader("x")); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := len(countObjects(t, o)); n != before+1001 {
		t.Fatalf("bucket holds %d keys after 1001 puts, want %d", n, before+1001)
	}
	if err := o.DeletePrefix(ctx, "recordings/many/"); err != nil {
		t.Fatal(err)
	}
	if n := len(countObjects(t, o)); n != before {
		t.Fatalf("after deleting 1001 keys the bucket holds %d keys, want the %d of other recordings", n, before)
	}
	// A big object goes up in parts and comes back whole.
	big := bytes.Repeat([]byte("0123456789abcdef"), 20<<20/16)
	if n, err := o.Put(ctx, "recordings/big/seg-000001.age", bytes.NewReader(big)); err != nil || n != int64(len(big)) {
		t.Fatalf("put 20 MiB: %d %v", n, err)
	}
	rc, err := o.Get(ctx, "recordings/big/seg-000001.age")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, big) {
		t.Fatalf("20 MiB object came back as %d different bytes", len(got))
	}

	env := testenv.RequireS3(t)
	bad, _ := NewS3Objects(S3Config{Endpoint: env.Endpoint, Bucket: o.bucket, AccessKey: env.AccessKey, SecretKey: "wrong-secret", PathStyle: true})
	if _, err := bad.Put(ctx, "k", strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := bad.Ping(ctx); err == nil {
		t.Fatal("ping with a wrong secret succeeded")
	}
	missing, _ := NewS3Objects(S3Config{Endpoint: env.Endpoint, Bucket: "assent-no-such-bucket", AccessKey: env.AccessKey, SecretKey: env.SecretKey, PathStyle: true})
	if err := missing.Ping(ctx); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("ping of a missing bucket: %v", err)
	}
}

// TestBadInputGetsClearErrorS3Config: a wrong S3 configuration is refused at
// start with a message that says what to fix.
func TestBadInputGetsClearErrorS3Config(t *testing.T) {
	for _, c := range []struct {
		cfg  S3Config
		want string
	}{
		{S3Config{Endpoint: "127.0.0.1:9000", Bucket: "b", AccessKey: "a", SecretKey: "s"}, "not an http(s) URL"},
		{S3Config{Endpoint: "http://127.0.0.1:9000/bucket", Bucket: "b", AccessKey: "a", SecretKey: "s"}, "has a path"},
		{S3Config{Endpoint: "http://127.0.0.1:9000", AccessKey: "a", SecretKey: "s"}, "bucket name is empty"},
		{S3Config{Endpoint: "http://127.0.0.1:9000", Bucket: "b"}, "ASSENTD_S3_ACCESS_KEY"},
	} {
		if _, err := NewS3Objects(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error saying %q", c.cfg, err, c.want)
		}
	}
}

// TestEndToEndS3Objects runs a recording and an erasure with objects in a
// real S3-compatible server.
func TestEndToEndS3Objects(t *testing.T) {
	o := realS3(t)
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "i.db"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWithObjects(t, st, o)
	d := h.enrol(1)
	h.fullRecording(d, "rec-1", 2, "ann@example.com")
	if keys := countObjects(t, o); len(keys) != 3 {
		t.Fatalf("S3 holds %v, want record + 2 segments", keys)
	}
	h.do("POST", "/v1/admin/subjects/erase", testAdmin, map[string]string{"email": "ann@example.com"})
	assertGone(t, h, "rec-1")
	if keys := countObjects(t, o); len(keys) != 0 {
		t.Fatalf("erase left %v in S3", keys)
	}
}
