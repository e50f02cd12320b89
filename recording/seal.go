package recording

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"

	"github.com/assent-app/assent/consent"
)

// Binding the audio to the consent record (docs/consent-record.md,
// "SegmentSealed"): every sealed segment is appended to the record as a
// SegmentSealed event, and the record saved, after the segment file is
// durable and before the segment is offered for upload.
//
// A store that can report its sealed segments (the vault's writer) calls
// back through SetSealHook with the ciphertext's hash and size, between
// the rename of the segment file and the metadata update that makes it
// visible to the sync outbox. For any other store (tests, tools) the sealer
// binds the pages handed to the store, hashed as they were written.

// sealHooker is implemented by vault.SegmentWriter.
type sealHooker interface {
	SetSealHook(func(consent.SegmentRef) error)
}

// sealer sits between the pipeline and the Store.
type sealer struct {
	Store
	hooked bool // the store reports its segments itself

	mu   sync.Mutex
	call *Call // set by Start before the pipeline runs
	// Only for stores without a hook: the pages since the last seal.
	h     hash.Hash
	size  int64
	index int
	end   int64
}

// newSealer wraps st; Start sets the call before capture begins.
func newSealer(st Store) *sealer {
	s := &sealer{Store: st, h: sha256.New()}
	if hs, ok := st.(sealHooker); ok {
		s.hooked = true
		hs.SetSealHook(s.sealed)
	}
	return s
}

func (s *sealer) bind(c *Call) {
	s.mu.Lock()
	s.call = c
	s.mu.Unlock()
}

func (s *sealer) WritePage(p []byte) error {
	if err := s.Store.WritePage(p); err != nil {
		return err
	}
	if !s.hooked {
		s.mu.Lock()
		s.h.Write(p)
		s.size += int64(len(p))
		s.mu.Unlock()
	}
	return nil
}

func (s *sealer) Seal() error {
	if err := s.Store.Seal(); err != nil || s.hooked {
		return err
	}
	return s.sealPages()
}

func (s *sealer) Close() error {
	if s.hooked {
		return s.Store.Close()
	}
	err := s.Store.Close()
	if err == nil {
		err = s.sealPages()
	}
	return err
}

// sealPages binds the pages written since the last seal, for stores that
// cannot report their segments. The pipeline seals only at page
// boundaries after every admitted frame is on a page, so the segment ends
// at the session's offset.
func (s *sealer) sealPages() error {
	s.mu.Lock()
	if s.size == 0 {
		s.mu.Unlock()
		return nil
	}
	s.index++
	ref := consent.SegmentRef{Index: s.index, Start: s.end, SHA256: hex.EncodeToString(s.h.Sum(nil)), Size: s.size}
	s.h.Reset()
	s.size = 0
	c := s.call
	s.mu.Unlock()
	if c == nil {
		return fmt.Errorf("%w: a segment was sealed before the call started", ErrSaveRecord)
	}
	ref.End = c.sess.Offset()
	s.mu.Lock()
	s.end = ref.End
	s.mu.Unlock()
	return s.sealed(ref)
}

// sealed appends SegmentSealed for ref and saves the record. An error
// stops the recording: audio the record does not list is not kept.
func (s *sealer) sealed(ref consent.SegmentRef) error {
	s.mu.Lock()
	c := s.call
	s.mu.Unlock()
	if c == nil {
		return fmt.Errorf("%w: a segment was sealed before the call started", ErrSaveRecord)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.sess.Apply(consent.Event{Type: consent.SegmentSealed, Segment: &ref}); err != nil {
		return fmt.Errorf("%w: segment %d could not be added to it: %v", ErrSaveRecord, ref.Index, err)
	}
	return c.saveLocked()
}
