package server

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// RecordingLister is an optional capability of an Objects store: the
// recording ids that have objects. With it, the sweeper removes objects of
// recordings the index no longer holds (left by a crash between deleting
// objects and the index entry, or by a replica that died mid-commit).
// LocalObjects has it; an S3 store can add it with a prefix listing.
type RecordingLister interface {
	RecordingIDs(ctx context.Context) ([]string, error)
}

// RecordingIDs lists the directories below recordings/.
func (l LocalObjects) RecordingIDs(ctx context.Context) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(l.Dir, "recordings"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// sweepObjects removes the objects of recordings without an index entry.
func (s *Server) sweepObjects(ctx context.Context) (int, error) {
	lister, ok := s.cfg.Objects.(RecordingLister)
	if !ok {
		return 0, nil
	}
	ids, err := lister.RecordingIDs(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if !validRecordingID(id) {
			continue
		}
		unlock := s.locks.lock(id)
		_, err := s.cfg.Store.Recording(ctx, id)
		if errors.Is(err, ErrNotFound) {
			err = s.cfg.Objects.DeletePrefix(ctx, "recordings/"+id+"/")
			if err == nil {
				n++
			}
		}
		unlock()
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
