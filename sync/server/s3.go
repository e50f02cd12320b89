package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config names an S3-compatible bucket (AWS S3, MinIO, Ceph, versitygw, …).
// Requests are signed by the maintained client library github.com/minio/minio-go
// (AWS Signature Version 4); assentd does no signing of its own.
type S3Config struct {
	Endpoint  string // e.g. https://s3.eu-central-1.amazonaws.com or http://127.0.0.1:9000
	Bucket    string
	Region    string // e.g. eu-central-1; "us-east-1" for most self-hosted servers
	AccessKey string
	SecretKey string
	// PathStyle forces <endpoint>/<bucket>/<key> URLs (self-hosted servers);
	// false lets the library choose (virtual-host style on AWS).
	PathStyle bool
	// Transport replaces the HTTP transport (tests); nil: the library's default.
	Transport http.RoundTripper
}

// S3Objects keeps objects in an S3-compatible bucket. Put streams the object
// (multipart above 16 MiB); a reader never sees a partial object.
type S3Objects struct {
	c      *minio.Client
	bucket string
}

// NewS3Objects connects to the bucket named by cfg. It checks nothing over
// the network; call Ping (readiness) for that.
func NewS3Objects(cfg S3Config) (*S3Objects, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("S3 endpoint %q is not an http(s) URL like https://s3.eu-central-1.amazonaws.com", cfg.Endpoint)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("S3 endpoint %q has a path; give the bucket separately (-s3-bucket)", cfg.Endpoint)
	}
	if cfg.Bucket == "" {
		return nil, errors.New("S3 bucket name is empty; give it with -s3-bucket")
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("S3 access key or secret key is empty; set ASSENTD_S3_ACCESS_KEY and ASSENTD_S3_SECRET_KEY")
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       region,
		BucketLookup: lookup,
		Transport:    cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("S3 client for %s: %w", cfg.Endpoint, err)
	}
	return &S3Objects{c: c, bucket: cfg.Bucket}, nil
}

// s3Err names the operation and, for an S3 error answer, its code.
func s3Err(op, key string, err error) error {
	var er minio.ErrorResponse
	if errors.As(err, &er) && er.Code != "" {
		return fmt.Errorf("S3 %s %s: %s (%s): %w", op, key, er.Code, er.Message, err)
	}
	return fmt.Errorf("S3 %s %s: %w", op, key, err)
}

// Put uploads the object. S3 makes it visible only once complete. When the
// reader knows its length (Len, as bytes.Reader and strings.Reader, or
// Size, as SizedReader) an object up to the part size is one PUT request;
// otherwise it is a multipart upload (three requests at least).
func (s *S3Objects) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	size := int64(-1)
	switch v := r.(type) {
	case interface{ Len() int }:
		size = int64(v.Len())
	case interface{ Size() int64 }:
		size = v.Size()
	}
	info, err := s.c.PutObject(ctx, s.bucket, key, r, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		PartSize:    16 << 20,
	})
	if err != nil {
		return 0, s3Err("put", key, err)
	}
	return info.Size, nil
}

// Get opens the object; errors.Is(err, ErrNotFound) if it is absent.
func (s *S3Objects) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := s.c.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s3Err("get", key, err)
	}
	// GetObject is lazy: Stat makes the request so absence shows here.
	if _, err := o.Stat(); err != nil {
		o.Close()
		if isNoSuchKey(err) {
			return nil, fmt.Errorf("object %s: %w", key, ErrNotFound)
		}
		return nil, s3Err("get", key, err)
	}
	return o, nil
}

func isNoSuchKey(err error) bool {
	er := minio.ToErrorResponse(err)
	return er.Code == "NoSuchKey" || er.StatusCode == http.StatusNotFound
}

// DeletePrefix lists the keys under prefix and deletes them in batches.
func (s *S3Objects) DeletePrefix(ctx context.Context, prefix string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var listErr error
	keys := make(chan minio.ObjectInfo)
	go func() {
		defer close(keys)
		for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if o.Err != nil {
				listErr = o.Err
				return
			}
			select {
			case keys <- o:
			case <-ctx.Done():
				return
			}
		}
	}()
	for e := range s.c.RemoveObjects(ctx, s.bucket, keys, minio.RemoveObjectsOptions{}) {
		if e.Err != nil && !isNoSuchKey(e.Err) {
			cancel()
			for range keys { // let the lister end
			}
			return s3Err("delete", e.ObjectName, e.Err)
		}
	}
	if listErr != nil {
		return s3Err("list", prefix, listErr)
	}
	return nil
}

// Ping checks that the bucket is reachable with the configured keys (readiness).
func (s *S3Objects) Ping(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return s3Err("check bucket", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("S3 bucket %q does not exist; create it (or ask the storage administrator) before starting assentd", s.bucket)
	}
	return nil
}

// EnsureBucket creates the bucket if it is absent (tests, first start).
func (s *S3Objects) EnsureBucket(ctx context.Context, region string) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return s3Err("check bucket", s.bucket, err)
	}
	if ok {
		return nil
	}
	if err := s.c.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region}); err != nil {
		er := minio.ToErrorResponse(err)
		if er.Code == "BucketAlreadyOwnedByYou" {
			return nil
		}
		return s3Err("create bucket", s.bucket, err)
	}
	return nil
}
