package consentpage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/assent-app/assent/sync/server/bucket"
)

// newToken returns a 256-bit random URL token and its hex SHA-256 (the
// only form kept).
func newToken() (plain, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("consentpage: no randomness: " + err.Error())
	}
	plain = base64.RawURLEncoding.EncodeToString(b)
	return plain, hashToken(plain)
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// slot is one participant place of a link.
type slot struct {
	ID        string `json:"id"`
	Ref       string `json:"ref,omitempty"`  // device's participant id (named slots)
	Name      string `json:"name,omitempty"` // named slots: from the device; open slots: once the visitor gave it
	Lang      string `json:"lang,omitempty"`
	Open      bool   `json:"open,omitempty"`
	Claimed   bool   `json:"claimed,omitempty"`   // open slots: a visitor took it
	TokenHash string `json:"tokenHash,omitempty"` // "" for an unclaimed open slot
	Decision  string `json:"decision,omitempty"`  // "", given, refused, withdrawn
}

// link is one call's consent link: the whole state of the link, stored as
// one JSON document (LinkStore), so every replica sees the same link.
type link struct {
	ID         string                `json:"id"`
	Device     string                `json:"device"`
	Recording  string                `json:"recording"`
	Controller string                `json:"controller,omitempty"`
	Notice     Notice                `json:"notice"`
	Texts      map[string]NoticeText `json:"-"` // from Notice.Texts
	Langs      []string              `json:"-"`
	MinAge     int                   `json:"minAge"`
	Created    time.Time             `json:"created"`
	Expires    time.Time             `json:"expires"`
	Closed     bool                  `json:"closed,omitempty"`
	ClosedAt   time.Time             `json:"closedAt,omitzero"`
	CallHash   string                `json:"callHash,omitempty"` // token of the call URL (open slots), "" if none
	Slots      []*slot               `json:"slots"`
	Answers    []Answer              `json:"answers"`
}

func (l *link) ended(now time.Time) bool { return l.Closed || !now.Before(l.Expires) }

// end is when the link stopped taking answers (closing or expiry).
func (l *link) end() time.Time {
	if l.Closed && l.ClosedAt.Before(l.Expires) {
		return l.ClosedAt
	}
	return l.Expires
}

func (l *link) index() {
	l.Texts = map[string]NoticeText{}
	l.Langs = nil
	for _, t := range l.Notice.Texts {
		l.Texts[t.Lang] = t
		l.Langs = append(l.Langs, t.Lang)
	}
}

func (l *link) slot(id string) *slot {
	for _, s := range l.Slots {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func encodeLink(l *link) ([]byte, error) { return json.Marshal(l) }

func decodeLink(b []byte) (*link, error) {
	l := &link{}
	if err := json.Unmarshal(b, l); err != nil {
		return nil, fmt.Errorf("stored consent link is damaged: %w", err)
	}
	l.index()
	return l, nil
}

// newLink builds the link of req with fresh tokens. It returns the link,
// the plain tokens by slot id, the plain call token ("" if none) and the
// token index (hash → slot id, "" for the call URL).
func newLink(device string, req LinkRequest, now time.Time, ttl time.Duration) (*link, map[string]string, string, map[string]string) {
	id, _ := newToken()
	l := &link{ID: id[:22], Device: device, Recording: req.RecordingID, Controller: req.Controller, Notice: req.Notice,
		MinAge: req.MinAge, Created: now, Expires: now.Add(ttl), Answers: []Answer{}}
	l.index()
	plain, index := map[string]string{}, map[string]string{}
	n := 0
	for _, sl := range req.Slots {
		n++
		tok, h := newToken()
		st := &slot{ID: fmt.Sprintf("s%d", n), Ref: sl.Ref, Name: sl.Name, Lang: sl.Lang, TokenHash: h}
		l.Slots = append(l.Slots, st)
		plain[st.ID] = tok
		index[h] = st.ID
	}
	for range req.OpenSlots {
		n++
		l.Slots = append(l.Slots, &slot{ID: fmt.Sprintf("s%d", n), Open: true})
	}
	call := ""
	if req.OpenSlots > 0 {
		tok, h := newToken()
		call, l.CallHash = tok, h
		index[h] = ""
	}
	return l, plain, call, index
}

// Errors of a LinkStore.
var (
	ErrNoLink = errors.New("consentpage: no such consent link")
	// ErrServerLinks: the server holds its limit of open links.
	ErrServerLinks = errors.New("consentpage: the server holds its limit of open consent links")
	// ErrDeviceLinks: the device holds its limit of open links.
	ErrDeviceLinks = errors.New("consentpage: this device holds its limit of open consent links")
)

// Limits are the quotas Insert enforces, counted over open links (not
// closed, not expired) of every replica.
type Limits struct {
	Server      int   // open links on the server
	Device      int   // open links of one device
	DeviceBytes int64 // stored bytes of one device's open links
}

// LinkStore keeps the consent links. The SQL store (NewSQLLinks) shares
// them between replicas; NewMemoryLinks keeps them in one process.
type LinkStore interface {
	// Insert adds l and its token index (hash → slot id, "" for the call
	// URL), unless a Limits quota is reached (ErrServerLinks, ErrDeviceLinks).
	Insert(ctx context.Context, l *link, index map[string]string, lim Limits, now time.Time) error
	// Get returns a copy of the link; ErrNoLink if absent.
	Get(ctx context.Context, id string) (*link, error)
	// Token resolves a token hash to its link id and slot id ("" for the
	// call URL); ErrNoLink if unknown.
	Token(ctx context.Context, hash string) (linkID, slotID string, err error)
	// Update applies fn to the current link atomically (across replicas)
	// and stores the result with the token index entries fn returns; fn's
	// error aborts the update. Watchers of the link are woken.
	Update(ctx context.Context, id string, fn func(l *link) (newIndex map[string]string, err error)) error
	// Sweep removes links that ended before cutoff, with their tokens.
	Sweep(ctx context.Context, cutoff time.Time) (int, error)
	// Watch returns a channel closed at the next change of link id on any
	// replica (or when the store may have missed one); call stop when done.
	Watch(id string) (changed <-chan struct{}, stop func())
}

// hub wakes the watchers of links in this process.
type hub struct {
	mu sync.Mutex
	w  map[string]map[chan struct{}]struct{}
}

func newHub() *hub { return &hub{w: map[string]map[chan struct{}]struct{}{}} }

func (h *hub) watch(id string) (<-chan struct{}, func()) {
	c := make(chan struct{})
	h.mu.Lock()
	if h.w[id] == nil {
		h.w[id] = map[chan struct{}]struct{}{}
	}
	h.w[id][c] = struct{}{}
	h.mu.Unlock()
	return c, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.w[id][c]; ok {
			delete(h.w[id], c)
			close(c)
		}
		if len(h.w[id]) == 0 {
			delete(h.w, id)
		}
	}
}

// wake closes the channels of id's watchers (they watch again to go on).
func (h *hub) wake(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.w[id] {
		close(c)
	}
	delete(h.w, id)
}

// wakeAll wakes every watcher (after a lost database notification channel).
func (h *hub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, cs := range h.w {
		for c := range cs {
			close(c)
		}
		delete(h.w, id)
	}
}

// memLinks keeps links in this process's memory (a single assentd without
// a database, and tools); it stores the same JSON documents as the SQL store.
type memLinks struct {
	mu    sync.Mutex
	links map[string][]byte
	meta  map[string]linkMeta
	index map[string][2]string // token hash → link id, slot id
	hub   *hub
}

// linkMeta is what the quotas and the sweep read (the columns of the SQL store).
type linkMeta struct {
	device string
	end    time.Time
	size   int64
}

func metaOf(l *link, b []byte) linkMeta {
	return linkMeta{device: l.Device, end: l.end(), size: int64(len(b))}
}

// NewMemoryLinks keeps links in this process only: lost on restart and not
// shared with other replicas. assentd uses NewSQLLinks.
func NewMemoryLinks() LinkStore {
	return &memLinks{links: map[string][]byte{}, meta: map[string]linkMeta{}, index: map[string][2]string{}, hub: newHub()}
}

func (m *memLinks) Insert(ctx context.Context, l *link, index map[string]string, lim Limits, now time.Time) error {
	b, err := encodeLink(l)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	open, dev := 0, 0
	var devBytes int64
	for _, o := range m.meta {
		if !now.Before(o.end) {
			continue
		}
		open++
		if o.device == l.Device {
			dev++
			devBytes += o.size
		}
	}
	switch {
	case lim.Server > 0 && open >= lim.Server:
		return ErrServerLinks
	case lim.Device > 0 && dev >= lim.Device, lim.DeviceBytes > 0 && devBytes+int64(len(b)) > lim.DeviceBytes:
		return ErrDeviceLinks
	}
	m.links[l.ID] = b
	m.meta[l.ID] = metaOf(l, b)
	for h, s := range index {
		m.index[h] = [2]string{l.ID, s}
	}
	return nil
}

func (m *memLinks) Get(ctx context.Context, id string) (*link, error) {
	m.mu.Lock()
	b, ok := m.links[id]
	m.mu.Unlock()
	if !ok {
		return nil, ErrNoLink
	}
	return decodeLink(b)
}

func (m *memLinks) Token(ctx context.Context, hash string) (string, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.index[hash]
	if !ok {
		return "", "", ErrNoLink
	}
	return t[0], t[1], nil
}

func (m *memLinks) Update(ctx context.Context, id string, fn func(*link) (map[string]string, error)) error {
	m.mu.Lock()
	b, ok := m.links[id]
	if !ok {
		m.mu.Unlock()
		return ErrNoLink
	}
	l, err := decodeLink(b)
	if err == nil {
		var idx map[string]string
		if idx, err = fn(l); err == nil {
			if b, err = encodeLink(l); err == nil {
				m.links[id] = b
				m.meta[id] = metaOf(l, b)
				for h, s := range idx {
					m.index[h] = [2]string{id, s}
				}
			}
		}
	}
	m.mu.Unlock()
	if err == nil {
		m.hub.wake(id)
	}
	return err
}

func (m *memLinks) Sweep(ctx context.Context, cutoff time.Time) (int, error) {
	m.mu.Lock()
	var gone []string
	for id, o := range m.meta {
		if o.end.After(cutoff) {
			continue
		}
		delete(m.links, id)
		delete(m.meta, id)
		gone = append(gone, id)
	}
	for h, t := range m.index {
		if _, ok := m.links[t[0]]; !ok {
			delete(m.index, h)
		}
	}
	m.mu.Unlock()
	for _, id := range gone {
		m.hub.wake(id)
	}
	return len(gone), nil
}

func (m *memLinks) Watch(id string) (<-chan struct{}, func()) { return m.hub.watch(id) }

// Rate is a rate limit: Burst requests at once, refilled at PerMinute.
type Rate = bucket.Rate

// limiter rate-limits by key (client address or token hash) in this
// process: the buckets of package bucket, without a database.
type limiter struct {
	rate Rate
	mem  bucket.Memory
}

func newLimiter(r Rate) *limiter { return &limiter{rate: r} }

// allow takes one request from key's bucket; it returns false and how long
// to wait when the bucket is empty.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	return l.mem.Take(key, l.rate, now)
}
