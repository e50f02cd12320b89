package consentpage

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
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
	id        string
	ref       string // device's participant id (named slots)
	name      string // named slots: from the device; open slots: once the visitor gave it
	lang      string
	open      bool
	claimed   bool   // open slots: a visitor took it
	tokenHash string // "" for an unclaimed open slot
	decision  string // "", given, refused, withdrawn
}

// link is one call's consent link. Guarded by store.mu.
type link struct {
	id         string
	device     string
	recording  string
	controller string
	notice     Notice
	texts      map[string]NoticeText
	langs      []string
	minAge     int
	created    time.Time
	expires    time.Time
	closed     bool
	closedAt   time.Time
	callHash   string // token of the call URL (open slots), "" if none
	slots      []*slot
	answers    []Answer
	changed    chan struct{} // closed and replaced whenever answers or state change
}

func (l *link) ended(now time.Time) bool { return l.closed || !now.Before(l.expires) }

func (l *link) notify() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// store keeps the links in memory.
type store struct {
	mu       sync.Mutex
	links    map[string]*link   // by id
	byToken  map[string]tokenOf // by token hash
	maxLinks int
}

type tokenOf struct {
	link *link
	slot *slot // nil for the call URL
}

func newStore(maxLinks int) *store {
	return &store{links: map[string]*link{}, byToken: map[string]tokenOf{}, maxLinks: maxLinks}
}

// create adds a link for req and returns it with the plain tokens (slot id →
// token, and the call token).
func (s *store) create(device string, req LinkRequest, now time.Time, ttl time.Duration) (*link, map[string]string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.links) >= s.maxLinks {
		return nil, nil, "", fmt.Errorf("the server holds %d open consent links, its limit", len(s.links))
	}
	id, _ := newToken()
	l := &link{id: id[:22], device: device, recording: req.RecordingID, controller: req.Controller, notice: req.Notice,
		texts: map[string]NoticeText{}, minAge: req.MinAge, created: now, expires: now.Add(ttl), changed: make(chan struct{})}
	for _, t := range req.Notice.Texts {
		l.texts[t.Lang] = t
		l.langs = append(l.langs, t.Lang)
	}
	plain := map[string]string{}
	n := 0
	for _, sl := range req.Slots {
		n++
		tok, h := newToken()
		st := &slot{id: fmt.Sprintf("s%d", n), ref: sl.Ref, name: sl.Name, lang: sl.Lang, tokenHash: h}
		l.slots = append(l.slots, st)
		plain[st.id] = tok
		s.byToken[h] = tokenOf{link: l, slot: st}
	}
	for range req.OpenSlots {
		n++
		l.slots = append(l.slots, &slot{id: fmt.Sprintf("s%d", n), open: true})
	}
	call := ""
	if req.OpenSlots > 0 {
		tok, h := newToken()
		call, l.callHash = tok, h
		s.byToken[h] = tokenOf{link: l}
	}
	s.links[l.id] = l
	return l, plain, call, nil
}

// lookup finds a token's link and slot (slot nil for the call URL).
func (s *store) lookup(token string) (tokenOf, bool) {
	t, ok := s.byToken[hashToken(token)]
	return t, ok
}

// claim gives the next free open slot of l a fresh token.
func (s *store) claim(l *link, name string) (*slot, string, bool) {
	for _, st := range l.slots {
		if st.open && !st.claimed {
			tok, h := newToken()
			st.claimed, st.tokenHash, st.name = true, h, name
			s.byToken[h] = tokenOf{link: l, slot: st}
			return st, tok, true
		}
	}
	return nil, "", false
}

// sweep forgets links that ended more than grace ago (their answers and
// names with them).
func (s *store) sweep(now time.Time, grace time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, l := range s.links {
		end := l.expires
		if l.closed && l.closedAt.Before(end) {
			end = l.closedAt
		}
		if now.Sub(end) >= grace {
			s.drop(id, l)
			n++
		}
	}
	return n
}

func (s *store) drop(id string, l *link) {
	if l.callHash != "" {
		delete(s.byToken, l.callHash)
	}
	for _, st := range l.slots {
		if st.tokenHash != "" {
			delete(s.byToken, st.tokenHash)
		}
	}
	delete(s.links, id)
	l.notify()
}

// bucket is a token bucket for rate limiting.
type bucket struct {
	tokens float64
	last   time.Time
}

// Rate is a rate limit: Burst requests at once, refilled at PerMinute.
type Rate struct {
	Burst     int
	PerMinute float64
}

// limiter rate-limits by key (client address or token hash).
type limiter struct {
	mu   sync.Mutex
	rate Rate
	m    map[string]*bucket
}

func newLimiter(r Rate) *limiter { return &limiter{rate: r, m: map[string]*bucket{}} }

// allow takes one request from key's bucket; it returns false and how long
// to wait when the bucket is empty.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[key]
	if b == nil {
		if len(l.m) > 100000 {
			l.gcLocked(now)
		}
		b = &bucket{tokens: float64(l.rate.Burst), last: now}
		l.m[key] = b
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(float64(l.rate.Burst), b.tokens+el.Minutes()*l.rate.PerMinute)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate.PerMinute * float64(time.Minute))
	return false, wait
}

// gcLocked drops buckets that have refilled completely.
func (l *limiter) gcLocked(now time.Time) {
	full := time.Duration(float64(l.rate.Burst) / l.rate.PerMinute * float64(time.Minute))
	for k, b := range l.m {
		if now.Sub(b.last) > full {
			delete(l.m, k)
		}
	}
}
