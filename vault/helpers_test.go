package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

// memStore is an in-memory SecretStore for unit tests; err, if set, is
// returned by every call (to play a broken keyring).
type memStore struct {
	mu  sync.Mutex
	m   map[string]string
	err error
}

func newMemStore() *memStore { return &memStore{m: map[string]string{}} }

func (s *memStore) Get(svc, user string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return "", s.err
	}
	v, ok := s.m[svc+"\x00"+user]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (s *memStore) Set(svc, user, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.m[svc+"\x00"+user] = secret
	return nil
}

func (s *memStore) Delete(svc, user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, svc+"\x00"+user)
	return nil
}

func openVault(t testing.TB, root string, store SecretStore) (*Vault, *OpenReport) {
	t.Helper()
	v, rep, err := Open(root, Options{Secrets: store})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return v, rep
}

// oggCRC is the Ogg page checksum (polynomial 0x04c11db7, not reflected).
var oggTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for j := 0; j < 8; j++ {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return
}()

func oggCRC(b []byte) uint32 {
	var c uint32
	for _, x := range b {
		c = c<<8 ^ oggTable[byte(c>>24)^x]
	}
	return c
}

// oggPage builds one Ogg page holding packets (each < 255*255 bytes).
func oggPage(flags byte, granule int64, serial, seq uint32, packets ...[]byte) []byte {
	var lacing []byte
	var body []byte
	for _, p := range packets {
		n := len(p)
		for n >= 255 {
			lacing = append(lacing, 255)
			n -= 255
		}
		lacing = append(lacing, byte(n))
		body = append(body, p...)
	}
	h := make([]byte, 27, 27+len(lacing)+len(body))
	copy(h, "OggS")
	h[5] = flags
	binary.LittleEndian.PutUint64(h[6:], uint64(granule))
	binary.LittleEndian.PutUint32(h[14:], serial)
	binary.LittleEndian.PutUint32(h[18:], seq)
	h[26] = byte(len(lacing))
	h = append(h, lacing...)
	h = append(h, body...)
	binary.LittleEndian.PutUint32(h[22:], oggCRC(h))
	return h
}

// fakeStream produces Ogg Opus-framed pages: a head page, a tags page and
// data pages of ~1 s (50 packets of 60 random bytes, 960 samples each).
// The packets are random, not real Opus: the vault never decodes audio.
type fakeStream struct {
	rng     *rand.Rand
	seq     uint32
	granule int64
	preSkip int
}

const testPreSkip = 312

func newFakeStream(seed uint64) *fakeStream {
	return &fakeStream{rng: rand.New(rand.NewPCG(seed, 1)), preSkip: testPreSkip}
}

func (s *fakeStream) headers() [][]byte {
	head := make([]byte, 19)
	copy(head, "OpusHead")
	head[8], head[9] = 1, 1
	binary.LittleEndian.PutUint16(head[10:], uint16(s.preSkip))
	binary.LittleEndian.PutUint32(head[12:], 48000)
	tags := append([]byte("OpusTags"), 0, 0, 0, 0, 0, 0, 0, 0)
	p1 := oggPage(0x02, 0, 7, s.seq, head)
	p2 := oggPage(0, 0, 7, s.seq+1, tags)
	s.seq += 2
	return [][]byte{p1, p2}
}

func (s *fakeStream) dataPage() []byte {
	pk := make([][]byte, 50)
	for i := range pk {
		pk[i] = make([]byte, 60)
		for j := range pk[i] {
			pk[i][j] = byte(s.rng.UintN(256))
		}
	}
	s.granule += 50 * 960
	p := oggPage(0, s.granule, 7, s.seq, pk...)
	s.seq++
	return p
}

// writeSegments writes the headers and then segs segments of perSeg data
// pages, sealing after each; it returns every byte written.
func writeSegments(t testing.TB, w *SegmentWriter, fs *fakeStream, segs, perSeg int, withHeaders bool) []byte {
	t.Helper()
	var all bytes.Buffer
	if withHeaders {
		for _, p := range fs.headers() {
			if err := w.WritePage(p); err != nil {
				t.Fatalf("WritePage(header): %v", err)
			}
			all.Write(p)
		}
	}
	for i := 0; i < segs; i++ {
		for j := 0; j < perSeg; j++ {
			p := fs.dataPage()
			if err := w.WritePage(p); err != nil {
				t.Fatalf("WritePage: %v", err)
			}
			all.Write(p)
		}
		if err := w.Seal(); err != nil {
			t.Fatalf("Seal: %v", err)
		}
	}
	return all.Bytes()
}

func readStream(t testing.TB, v *Vault, id string) []byte {
	t.Helper()
	r, err := v.OpenStream(id)
	if err != nil {
		t.Fatalf("OpenStream: %v", err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading stream: %v", err)
	}
	return b
}

// scanForPlaintext walks dirs and fails if any file contains one of needles.
func scanForPlaintext(t testing.TB, when string, needles [][]byte, dirs ...string) int {
	t.Helper()
	files := 0
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return nil // renamed while we looked
				}
				t.Errorf("%s: reading %s: %v", when, p, err)
				return nil
			}
			files++
			for _, n := range needles {
				if bytes.Contains(b, n) {
					t.Errorf("%s: %s contains plaintext %q", when, p, n)
				}
			}
			return nil
		})
	}
	return files
}

func mustNotExist(t testing.TB, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still exists (err=%v)", p, err)
	}
}

func listDir(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

var _ = fmt.Sprintf

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// ID0Time returns a time near the writer's start (for making a different,
// valid id in tests).
func (w *SegmentWriter) ID0Time() time.Time { return w.m.Started.Add(-time.Hour) }

func bytesEq(a, b []byte) bool { return bytes.Equal(a, b) }

// simulateCrash abandons w as a killed process would: its file descriptors
// (and with them the writer lock) are gone, nothing else is cleaned up.
func simulateCrash(w *SegmentWriter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cur != nil && w.cur.f != nil {
		w.cur.f.Close()
	}
	w.unlock()
	w.closed = true
}
