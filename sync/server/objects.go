package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Objects stores ciphertext segments and consent records by key
// ("recordings/<id>/seg-000001.age", "recordings/<id>/record.json").
type Objects interface {
	// Put stores r under key atomically: a reader never sees a partial object.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
	// Get opens the object; errors.Is(err, ErrNotFound) if absent.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// DeletePrefix removes every object whose key starts with prefix; absent is not an error.
	DeletePrefix(ctx context.Context, prefix string) error
}

// LocalObjects keeps objects as files below a directory.
type LocalObjects struct{ Dir string }

func (l LocalObjects) path(key string) (string, error) {
	if key == "" || strings.Contains(key, "..") || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
		return "", fmt.Errorf("invalid object key %q", key)
	}
	return filepath.Join(l.Dir, filepath.FromSlash(key)), nil
}

// Put writes to a temporary file, fsyncs, renames and fsyncs the directory.
func (l LocalObjects) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	p, err := l.path(key)
	if err != nil {
		return 0, err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(dir, ".put-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("store object: %w", err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return n, err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return n, nil
}

// Get opens the object file.
func (l LocalObjects) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("object %s: %w", key, ErrNotFound)
	}
	return f, err
}

// DeletePrefix removes the objects below prefix (a "directory" key ending in /, or one key).
func (l LocalObjects) DeletePrefix(ctx context.Context, prefix string) error {
	p, err := l.path(strings.TrimSuffix(prefix, "/"))
	if err != nil {
		return err
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("delete objects %s: %w", prefix, err)
	}
	return nil
}

// SizedReader is a reader of exactly N bytes; Objects may use the length
// (S3Objects sends an object of known length in one request).
type SizedReader struct {
	io.Reader
	N int64
}

// Size is the number of bytes the reader yields.
func (r SizedReader) Size() int64 { return r.N }
