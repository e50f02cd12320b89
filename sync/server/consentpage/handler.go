package consentpage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrUnauthenticated is what a DeviceAuth returns for a missing or unknown
// device token.
var ErrUnauthenticated = errors.New("consentpage: device not authenticated")

// DeviceAuth authenticates a device request (assentd: the bearer device
// token) and returns the device's id.
type DeviceAuth func(r *http.Request) (deviceID string, err error)

// Config configures a Handler. Auth is required.
type Config struct {
	Auth DeviceAuth
	// PublicURL is the base URL participants reach (e.g.
	// https://assent.acme.example); empty: derived from each device
	// request's Host.
	PublicURL string
	// ClientIP returns the client address used for rate limiting; default:
	// the connection's remote address (set this behind a trusted proxy).
	ClientIP func(r *http.Request) string
	PerIP    Rate // default 60 burst, 30/min
	PerToken Rate // answers per token: default 6 burst, 6/min
	MaxLinks int  // links held at once; default 10000
	// Grace is how long an ended link is kept so pages say "ended" and the
	// device can read the last answers; default 10 min.
	Grace  time.Duration
	Logger *slog.Logger
	Now    func() time.Time
	// Heartbeat is the interval of SSE keep-alive comments; default 15 s.
	Heartbeat time.Duration
}

// Handler serves the device API and the participant pages.
type Handler struct {
	cfg      Config
	st       *store
	ipLim    *limiter
	tokLim   *limiter
	log      *slog.Logger
	now      func() time.Time
	patterns map[string]http.HandlerFunc
}

// New returns a Handler for cfg.
func New(cfg Config) (*Handler, error) {
	if cfg.Auth == nil {
		return nil, errors.New("consentpage: Config.Auth (device authentication) is required")
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("consentpage: PublicURL %q is not an http(s) URL like https://assent.example.org", cfg.PublicURL)
		}
		cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = func(r *http.Request) string {
			h, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				return r.RemoteAddr
			}
			return h
		}
	}
	if cfg.PerIP.Burst <= 0 || cfg.PerIP.PerMinute <= 0 {
		cfg.PerIP = Rate{Burst: 60, PerMinute: 30}
	}
	if cfg.PerToken.Burst <= 0 || cfg.PerToken.PerMinute <= 0 {
		cfg.PerToken = Rate{Burst: 6, PerMinute: 6}
	}
	if cfg.MaxLinks <= 0 {
		cfg.MaxLinks = 10000
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	h := &Handler{cfg: cfg, st: newStore(cfg.MaxLinks), ipLim: newLimiter(cfg.PerIP), tokLim: newLimiter(cfg.PerToken),
		log: cfg.Logger, now: cfg.Now}
	h.patterns = map[string]http.HandlerFunc{
		"POST /v1/consent-links":            h.device(h.create),
		"DELETE /v1/consent-links/{id}":     h.device(h.close),
		"GET /v1/consent-links/{id}/events": h.device(h.events),
		"GET /c/{token}":                    h.page,
		"POST /c/{token}":                   h.answer,
	}
	return h, nil
}

// Mux is where Register mounts the routes (*http.ServeMux, or assentd's
// Server.Handle).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Register mounts the device API and the pages on m.
func (h *Handler) Register(m Mux) {
	for p, f := range h.patterns {
		m.Handle(p, f)
	}
}

// ServeHTTP serves the routes on their own (for tests and small setups).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := http.NewServeMux()
	h.Register(m)
	m.ServeHTTP(w, r)
}

// Run forgets ended links every minute until ctx is done.
func (h *Handler) Run(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.st.sweep(h.now(), h.cfg.Grace)
		}
	}
}

// ---- device API -------------------------------------------------------------

type problemDoc struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func problem(w http.ResponseWriter, status int, slug, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problemDoc{Type: "tag:assent.app,2026:problem/" + slug, Title: title, Status: status, Detail: detail})
}

func (h *Handler) device(f func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d, err := h.cfg.Auth(r)
		if errors.Is(err, ErrUnauthenticated) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="assentd"`)
			problem(w, http.StatusUnauthorized, "unauthenticated", "Device not authenticated", "Send the device token from enrolment as 'Authorization: Bearer <token>'. If the device was never enrolled or was removed, enrol it again with a code from your administrator.")
			return
		}
		if err != nil {
			h.log.Error("checking a device token", "err", err.Error())
			problem(w, http.StatusInternalServerError, "internal", "Internal error", "Checking the device token failed on the server; nothing was changed. Retry later.")
			return
		}
		f(w, r, d)
	}
}

func (h *Handler) publicBase(r *http.Request) string {
	if h.cfg.PublicURL != "" {
		return h.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request, device string) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		problem(w, http.StatusUnsupportedMediaType, "bad-content-type", "Body must be JSON", "Send the link request as application/json (got "+strconv.Quote(ct)+").")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequest))
	if err != nil {
		problem(w, http.StatusRequestEntityTooLarge, "too-large", "Link request too large", fmt.Sprintf("A link request is at most %d bytes (%d notice languages of at most %d bytes each).", MaxRequest, MaxLangs, MaxNoticeText))
		return
	}
	req, ttl, err := ParseLinkRequest(body)
	if err != nil {
		problem(w, http.StatusBadRequest, "bad-link-request", "Bad consent link request", err.Error())
		return
	}
	now := h.now()
	h.st.sweep(now, h.cfg.Grace)
	l, tokens, call, err := h.st.create(device, req, now, ttl)
	if err != nil {
		w.Header().Set("Retry-After", "60")
		problem(w, http.StatusServiceUnavailable, "too-many-links", "Too many open consent links", err.Error()+"; close links of ended calls, or retry in a minute.")
		return
	}
	base := h.publicBase(r)
	resp := LinkResponse{ID: l.id, ExpiresAt: l.expires.UTC(), EventsURL: base + "/v1/consent-links/" + l.id + "/events"}
	if call != "" {
		resp.CallURL = base + "/c/" + call
	}
	for _, s := range l.slots {
		if !s.open {
			resp.Slots = append(resp.Slots, SlotLink{Slot: s.id, Ref: s.ref, URL: base + "/c/" + tokens[s.id]})
		}
	}
	if resp.Slots == nil {
		resp.Slots = []SlotLink{}
	}
	h.log.Info("consent link created", "link", l.id, "slots", len(l.slots), "ttl_s", int(ttl.Seconds()))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(resp)
}

// own returns the device's link, or writes 404 (a link of another device
// is reported as not found, so ids cannot be probed).
func (h *Handler) own(w http.ResponseWriter, r *http.Request, device string) (*link, bool) {
	h.st.mu.Lock()
	l := h.st.links[r.PathValue("id")]
	h.st.mu.Unlock()
	if l == nil || l.device != device {
		problem(w, http.StatusNotFound, "no-such-link", "No such consent link", "This device has no consent link with that id; it may have ended more than a few minutes ago. Create a new one for the call.")
		return nil, false
	}
	return l, true
}

func (h *Handler) close(w http.ResponseWriter, r *http.Request, device string) {
	l, ok := h.own(w, r, device)
	if !ok {
		return
	}
	h.st.mu.Lock()
	if !l.closed {
		l.closed, l.closedAt = true, h.now()
		l.notify()
	}
	h.st.mu.Unlock()
	h.log.Info("consent link closed", "link", l.id)
	w.WriteHeader(http.StatusNoContent)
}

// ParseLastEventID reads the resume point of an event stream: the
// Last-Event-ID header, else the "after" query parameter; 0 if neither.
func ParseLastEventID(header, query string) (int64, error) {
	v := strings.TrimSpace(header)
	if v == "" {
		v = strings.TrimSpace(query)
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: Last-Event-ID %q is not a non-negative event number", ErrBadRequest, v)
	}
	return n, nil
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request, device string) {
	l, ok := h.own(w, r, device)
	if !ok {
		return
	}
	after, err := ParseLastEventID(r.Header.Get("Last-Event-ID"), r.URL.Query().Get("after"))
	if err != nil {
		problem(w, http.StatusBadRequest, "bad-last-event-id", "Bad resume point", err.Error())
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	var buf bytes.Buffer
	buf.WriteString("retry: 1000\n\n")
	hb := time.NewTicker(h.cfg.Heartbeat)
	defer hb.Stop()
	for {
		h.st.mu.Lock()
		var batch []Answer
		for _, a := range l.answers {
			if a.Seq > after {
				batch = append(batch, a)
			}
		}
		now := h.now()
		ended, closed, changed, expires := l.ended(now), l.closed, l.changed, l.expires
		h.st.mu.Unlock()
		for _, a := range batch {
			b, _ := json.Marshal(a)
			fmt.Fprintf(&buf, "id: %d\nevent: answer\ndata: %s\n\n", a.Seq, b)
			after = a.Seq
		}
		if ended {
			reason := "expired"
			if closed {
				reason = "closed"
			}
			fmt.Fprintf(&buf, "event: end\ndata: {\"reason\":%q}\n\n", reason)
		}
		if buf.Len() > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
			if _, err := w.Write(buf.Bytes()); err != nil {
				return
			}
			buf.Reset()
			if err := rc.Flush(); err != nil {
				return
			}
		}
		if ended {
			return
		}
		timer := time.NewTimer(max(expires.Sub(now), time.Millisecond))
		select {
		case <-r.Context().Done():
			timer.Stop()
			return
		case <-changed:
		case <-timer.C:
		case <-hb.C:
			buf.WriteString(": keep-alive\n\n")
		}
		timer.Stop()
	}
}

// ---- participant pages --------------------------------------------------------

func nonce() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b) // no "+" or "/": html/template leaves it as is
}

// securityHeaders sets the page's strict policy: nothing but our own inline
// style (by nonce), forms post only to this origin, no framing, no referrer
// (the URL holds the token), no caching.
func securityHeaders(w http.ResponseWriter, n string) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+n+"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	hd.Set("Content-Type", "text/html; charset=utf-8")
}

// view is what the page handler found for a token, copied under the lock.
type view struct {
	found    bool
	ended    bool
	closed   bool
	l        *link
	sl       *slot // nil: the call URL
	decision string
	name     string
	slotLang string
	full     bool
	msg      string // a status message that replaces the page (e.g. rate limited)
}

func (h *Handler) look(token string) view {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	t, ok := h.st.lookup(token)
	if !ok {
		return view{}
	}
	v := view{found: true, l: t.link, sl: t.slot, ended: t.link.ended(h.now()), closed: t.link.closed}
	if t.slot != nil {
		v.decision, v.name, v.slotLang = t.slot.decision, t.slot.name, t.slot.lang
	} else {
		v.full = true
		for _, s := range t.link.slots {
			if s.open && !s.claimed {
				v.full = false
			}
		}
	}
	return v
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, v view, lang string, f *Form, errMsg string) {
	n := nonce()
	securityHeaders(w, n)
	d := pageData{Lang: lang, Nonce: n, W: func(k string) string { return word(lang, k) }, Error: errMsg}
	d.Title = d.W("title")
	if v.l != nil {
		d.Controller = v.l.controller
		for _, l := range v.l.langs {
			name := langNames[base(l)]
			if name == "" {
				name = l
			}
			d.Langs = append(d.Langs, langLink{Code: l, Name: name, Current: l == lang})
		}
		t := v.l.texts[lang]
		d.NoticeTitle, d.Notice = renderNotice(t.Text)
		if d.NoticeTitle == "" {
			d.NoticeTitle = d.Title
		}
		d.NoticeSHA = t.SHA256
		d.NoticeRef = v.l.notice.ID + " v" + v.l.notice.Version + " · " + t.SHA256[:12]
		d.AgeText = fmt.Sprintf(d.W("age"), v.l.minAge)
		d.Action = r.URL.Path
	}
	switch {
	case v.msg != "":
		d.State, d.Message = "message", d.W(v.msg)
	case !v.found:
		d.State, d.Message = "message", d.W("notfound")
	case v.ended && v.closed:
		d.State, d.Message = "message", d.W("ended")
	case v.ended:
		d.State, d.Message = "message", d.W("expired")
	case v.sl == nil && v.full:
		d.State, d.Message = "message", d.W("full")
	case v.decision == Given:
		d.State, d.ShowNotice = "given", true
	case v.decision == Refused:
		d.State = "refused"
	case v.decision == Withdrawn:
		d.State = "withdrawn"
	default:
		d.State, d.ShowNotice = "form", true
		d.AskName = v.sl == nil
		if v.sl != nil {
			d.For = v.name
		}
		if f != nil {
			d.Name, d.AgeChecked = f.Name, f.AgeConfirmed
		}
	}
	if d.State == "message" {
		d.NoticeRef = ""
	}
	w.WriteHeader(status)
	if err := pageTmpl.Execute(w, d); err != nil {
		h.log.Error("rendering the consent page", "err", err.Error())
	}
}

func (h *Handler) limited(w http.ResponseWriter, r *http.Request, lim *limiter, key string) bool {
	ok, wait := lim.allow(key, h.now())
	if ok {
		return false
	}
	secs := int(wait/time.Second) + 1
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	lang := pickLang([]string{"en", "nl", "de", "fr"}, r.URL.Query().Get("lang"), r.Header.Get("Accept-Language"), "")
	h.render(w, r, http.StatusTooManyRequests, view{msg: "slow"}, lang, nil, "")
	return true
}

func statusOf(v view) int {
	switch {
	case !v.found:
		return http.StatusNotFound
	case v.ended:
		return http.StatusGone
	case v.sl == nil && v.full:
		return http.StatusConflict
	}
	return http.StatusOK
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	if h.limited(w, r, h.ipLim, "ip:"+h.cfg.ClientIP(r)) {
		return
	}
	v := h.look(r.PathValue("token"))
	lang := "en"
	if v.found {
		lang = pickLang(v.l.langs, r.URL.Query().Get("lang"), r.Header.Get("Accept-Language"), v.slotLang)
	} else {
		lang = pickLang([]string{"en", "nl", "de", "fr"}, r.URL.Query().Get("lang"), r.Header.Get("Accept-Language"), "")
	}
	h.render(w, r, statusOf(v), v, lang, nil, "")
}

// sameOrigin refuses cross-site form posts when the browser says where
// they come from (the token in the URL is the real protection).
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

func (h *Handler) answer(w http.ResponseWriter, r *http.Request) {
	if h.limited(w, r, h.ipLim, "ip:"+h.cfg.ClientIP(r)) {
		return
	}
	token := r.PathValue("token")
	if h.limited(w, r, h.tokLim, "tok:"+hashToken(token)) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	formErr := r.ParseForm()
	v := h.look(token)
	lang := "en"
	if v.found {
		lang = pickLang(v.l.langs, r.PostForm.Get("lang"), r.Header.Get("Accept-Language"), v.slotLang)
	}
	if !v.found || v.ended {
		h.render(w, r, statusOf(v), v, lang, nil, "")
		return
	}
	if !sameOrigin(r) {
		h.render(w, r, http.StatusForbidden, v, lang, nil, word(lang, "bad")+"cross-site form posts are refused.")
		return
	}
	if formErr != nil {
		h.render(w, r, http.StatusBadRequest, v, lang, nil, word(lang, "bad")+"the form could not be read.")
		return
	}
	f, err := ParseForm(r.PostForm.Get)
	if err != nil {
		h.render(w, r, http.StatusBadRequest, v, lang, nil, word(lang, "bad")+strings.TrimPrefix(err.Error(), ErrBadRequest.Error()+": "))
		return
	}
	status, msg, redirect := h.apply(v, token, f)
	if redirect != "" {
		http.Redirect(w, r, redirect+"?lang="+url.QueryEscape(f.Lang), http.StatusSeeOther)
		return
	}
	v = h.look(token)
	h.render(w, r, status, v, lang, &f, msg)
}

// apply records one answer. It returns either where to redirect (success)
// or the status and message of the re-rendered page.
func (h *Handler) apply(v view, token string, f Form) (int, string, string) {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	l := v.l
	now := h.now()
	if l.ended(now) {
		return http.StatusGone, "", ""
	}
	t, ok := l.texts[f.Lang]
	if !ok || (f.Decision != Withdrawn && t.SHA256 != f.SHA256) {
		return http.StatusConflict, word(f.Lang, "stale"), ""
	}
	if f.Decision == Given && !f.AgeConfirmed {
		return http.StatusUnprocessableEntity, word(f.Lang, "needAge"), ""
	}
	sl := v.sl
	var newToken string
	if sl == nil {
		// The call URL: a visitor claims an open slot with their name.
		if f.Decision == Withdrawn {
			return http.StatusConflict, word(f.Lang, "answered"), ""
		}
		if f.Name == "" {
			return http.StatusUnprocessableEntity, word(f.Lang, "needName"), ""
		}
		var claimed bool
		sl, newToken, claimed = h.st.claim(l, f.Name)
		if !claimed {
			return http.StatusConflict, word(f.Lang, "full"), ""
		}
	} else {
		switch {
		case f.Decision == Withdrawn && sl.decision != Given:
			return http.StatusConflict, word(f.Lang, "answered"), ""
		case f.Decision != Withdrawn && sl.decision != "":
			return http.StatusConflict, word(f.Lang, "answered"), ""
		}
	}
	sl.decision = f.Decision
	a := Answer{Seq: int64(len(l.answers) + 1), Slot: sl.id, Ref: sl.ref, Decision: f.Decision,
		AgeConfirmed: f.AgeConfirmed && f.Decision == Given,
		Notice:       NoticeRef{ID: l.notice.ID, Version: l.notice.Version, Lang: f.Lang, SHA256: t.SHA256},
		Time:         now.UTC(), Evidence: sl.tokenHash}
	if sl.open {
		a.Name = sl.name
	}
	l.answers = append(l.answers, a)
	l.notify()
	h.log.Info("consent answer", "link", l.id, "slot", sl.id, "decision", f.Decision)
	if newToken != "" {
		return http.StatusSeeOther, "", "/c/" + newToken
	}
	return http.StatusSeeOther, "", "/c/" + token
}

// BearerAuth authenticates devices by their bearer token: lookup gets the
// hex SHA-256 of the token and returns the device id, or an error that
// errors.Is notFound for an unknown token. assentd passes its Store's
// DeviceByToken, so remote consent uses the same device tokens as /v1.
func BearerAuth(lookup func(ctx context.Context, tokenHash string) (string, error), notFound error) DeviceAuth {
	return func(r *http.Request) (string, error) {
		a := r.Header.Get("Authorization")
		if len(a) <= 7 || !strings.EqualFold(a[:7], "bearer ") || strings.TrimSpace(a[7:]) == "" {
			return "", ErrUnauthenticated
		}
		id, err := lookup(r.Context(), hashToken(strings.TrimSpace(a[7:])))
		if errors.Is(err, notFound) {
			return "", ErrUnauthenticated
		}
		return id, err
	}
}
