package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	gosync "sync"
	"testing"
	"time"
)

// The AWS documentation's Signature Version 4 example (GET Object with Range).
func TestSignV4MatchesAWSExample(t *testing.T) {
	req, _ := http.NewRequest("GET", "https://examplebucket.s3.amazonaws.com/test.txt", nil)
	req.Header.Set("Range", "bytes=0-9")
	SignV4(req, nil, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3", time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC))
	want := "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
	if got := req.Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization\n got %s\nwant %s", got, want)
	}
}

// fakeS3 is an in-process S3 (path style: PUT/GET/DELETE object,
// ListObjectsV2 with pagination) that checks every request's signature.
type fakeS3 struct {
	mu      gosync.Mutex
	objects map[string][]byte
	secret  string
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	check, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if rg := r.Header.Get("Range"); rg != "" {
		check.Header.Set("Range", rg)
	}
	ts, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	SignV4(check, body, "AKTEST", f.secret, "us-east-1", "s3", ts)
	if err != nil || check.Header.Get("Authorization") != r.Header.Get("Authorization") {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "<Error><Code>SignatureDoesNotMatch</Code><Message>bad signature</Message></Error>")
		return
	}
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(parts) == 1 && r.Method == "GET" && r.URL.Query().Get("list-type") == "2" {
		prefix := r.URL.Query().Get("prefix")
		var keys []string
		for k := range f.objects {
			if strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		// Like S3, the token names a position in key order (after a key), so
		// deleting listed keys between pages does not skip any.
		start := 0
		if after := r.URL.Query().Get("continuation-token"); after != "" {
			start = sort.SearchStrings(keys, after)
			if start < len(keys) && keys[start] == after {
				start++
			}
		}
		end := min(start+2, len(keys))
		var b strings.Builder
		b.WriteString("<ListBucketResult>")
		for _, k := range keys[start:end] {
			b.WriteString("<Contents><Key>" + k + "</Key></Contents>")
		}
		fmt.Fprintf(&b, "<IsTruncated>%v</IsTruncated>", end < len(keys))
		if end < len(keys) {
			fmt.Fprintf(&b, "<NextContinuationToken>%s</NextContinuationToken>", keys[end-1])
		}
		b.WriteString("</ListBucketResult>")
		io.WriteString(w, b.String())
		return
	}
	key := parts[1]
	switch r.Method {
	case "PUT":
		f.objects[key] = body
	case "GET":
		b, ok := f.objects[key]
		if !ok {
			w.WriteHeader(404)
			io.WriteString(w, "<Error><Code>NoSuchKey</Code></Error>")
			return
		}
		w.Write(b)
	case "DELETE":
		delete(f.objects, key)
		w.WriteHeader(204)
	}
}

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

func TestObjectsS3AgainstInProcessFake(t *testing.T) {
	f := &fakeS3{objects: map[string][]byte{}, secret: "s3cret"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	objectsSuite(t, &S3Objects{Endpoint: srv.URL, Bucket: "assent", Region: "us-east-1", AccessKey: "AKTEST", SecretKey: "s3cret"})
	bad := &S3Objects{Endpoint: srv.URL, Bucket: "assent", Region: "us-east-1", AccessKey: "AKTEST", SecretKey: "wrong"}
	if _, err := bad.Put(t.Context(), "k", bytes.NewReader([]byte("x"))); err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Fatalf("wrong secret: %v", err)
	}
}

// TestEndToEndS3Objects runs a recording and an erasure with S3 objects.
func TestEndToEndS3Objects(t *testing.T) {
	f := &fakeS3{objects: map[string][]byte{}, secret: "s3cret"}
	s3 := httptest.NewServer(f)
	defer s3.Close()
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "i.db"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWithObjects(t, st, &S3Objects{Endpoint: s3.URL, Bucket: "assent", Region: "us-east-1", AccessKey: "AKTEST", SecretKey: "s3cret"})
	d := h.enrol(1)
	h.fullRecording(d, "rec-1", 2, "ann@example.com")
	f.mu.Lock()
	n := len(f.objects)
	f.mu.Unlock()
	if n != 3 {
		t.Fatalf("S3 holds %d objects, want record + 2 segments", n)
	}
	h.do("POST", "/v1/admin/subjects/erase", testAdmin, map[string]string{"email": "ann@example.com"})
	assertGone(t, h, "rec-1")
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.objects) != 0 {
		t.Fatalf("erase left %d objects in S3", len(f.objects))
	}
}
