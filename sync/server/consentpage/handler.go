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
	"sync"
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
	MaxLinks int  // open links on the server (all replicas); default 10000
	// DeviceLinks is how many open links one device may hold; default 10.
	DeviceLinks int
	// DeviceBytes is how many bytes of stored links one device may hold
	// open; default 16 MiB (a link request is at most MaxRequest).
	DeviceBytes int64
	// Links keeps the links; default NewMemoryLinks (one process, lost on
	// restart). assentd passes NewSQLLinks on its database.
	Links LinkStore
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
	links    LinkStore
	ipLim    *limiter
	tokLim   *limiter
	log      *slog.Logger
	now      func() time.Time
	patterns map[string]http.HandlerFunc
	closing  chan struct{} // closed by Shutdown
	once     sync.Once
}

// Shutdown ends every event stream of this replica (graceful shutdown):
// devices reconnect with Last-Event-ID, through the load balancer, to a
// replica that stays. Call it before http.Server.Shutdown, which waits for
// requests in flight. New streams opened afterwards end at once.
func (h *Handler) Shutdown() { h.once.Do(func() { close(h.closing) }) }

func (h *Handler) isClosing() bool {
	select {
	case <-h.closing:
		return true
	default:
		return false
	}
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
	if cfg.DeviceLinks <= 0 {
		cfg.DeviceLinks = 10
	}
	if cfg.DeviceBytes <= 0 {
		cfg.DeviceBytes = 16 << 20
	}
	if cfg.Links == nil {
		cfg.Links = NewMemoryLinks()
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
	h := &Handler{cfg: cfg, links: cfg.Links, closing: make(chan struct{}), ipLim: newLimiter(cfg.PerIP), tokLim: newLimiter(cfg.PerToken),
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

// Run forgets ended links every minute and, on PostgreSQL, receives the
// other replicas' link changes (LISTEN/NOTIFY), until ctx is done.
func (h *Handler) Run(ctx context.Context) {
	if l, ok := h.links.(interface{ Listen(context.Context) }); ok {
		go l.Listen(ctx)
	}
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.sweep(ctx)
		}
	}
}

// sweep forgets links that ended more than Grace ago (answers and names with
// them). Every replica may run it: deleting twice is harmless.
func (h *Handler) sweep(ctx context.Context) {
	if _, err := h.links.Sweep(ctx, h.now().Add(-h.cfg.Grace)); err != nil && ctx.Err() == nil {
		h.log.Error("forgetting ended consent links failed; will retry", "err", err.Error())
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
	h.sweep(r.Context())
	l, tokens, call, index := newLink(device, req, now, ttl)
	err = h.links.Insert(r.Context(), l, index, Limits{Server: h.cfg.MaxLinks, Device: h.cfg.DeviceLinks, DeviceBytes: h.cfg.DeviceBytes}, now)
	switch {
	case errors.Is(err, ErrDeviceLinks):
		w.Header().Set("Retry-After", "60")
		problem(w, http.StatusTooManyRequests, "device-link-quota", "Too many open consent links for this device",
			fmt.Sprintf("This device already holds its limit of open consent links (%d links or %d MiB). Close the links of calls that ended (DELETE /v1/consent-links/{id}), or wait until they expire.", h.cfg.DeviceLinks, h.cfg.DeviceBytes>>20))
		return
	case errors.Is(err, ErrServerLinks):
		w.Header().Set("Retry-After", "60")
		problem(w, http.StatusServiceUnavailable, "too-many-links", "Too many open consent links", fmt.Sprintf("The server holds %d open consent links, its limit; close links of ended calls, or retry in a minute.", h.cfg.MaxLinks))
		return
	case err != nil:
		h.internalError(w, "storing the consent link", err)
		return
	}
	base := h.publicBase(r)
	resp := LinkResponse{ID: l.ID, ExpiresAt: l.Expires.UTC(), EventsURL: base + "/v1/consent-links/" + l.ID + "/events"}
	if call != "" {
		resp.CallURL = base + "/c/" + call
	}
	for _, s := range l.Slots {
		if !s.Open {
			resp.Slots = append(resp.Slots, SlotLink{Slot: s.ID, Ref: s.Ref, URL: base + "/c/" + tokens[s.ID]})
		}
	}
	if resp.Slots == nil {
		resp.Slots = []SlotLink{}
	}
	h.log.Info("consent link created", "link", l.ID, "slots", len(l.Slots), "ttl_s", int(ttl.Seconds()))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(resp)
}

// own returns the device's link, or writes 404 (a link of another device
// is reported as not found, so ids cannot be probed).
func (h *Handler) own(w http.ResponseWriter, r *http.Request, device string) (*link, bool) {
	l, err := h.links.Get(r.Context(), r.PathValue("id"))
	if err != nil && !errors.Is(err, ErrNoLink) {
		h.internalError(w, "reading the consent link", err)
		return nil, false
	}
	if l == nil || l.Device != device {
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
	err := h.links.Update(r.Context(), l.ID, func(l *link) (map[string]string, error) {
		if !l.Closed {
			l.Closed, l.ClosedAt = true, h.now()
		}
		return nil, nil
	})
	if err != nil && !errors.Is(err, ErrNoLink) {
		h.internalError(w, "closing the consent link", err)
		return
	}
	h.log.Info("consent link closed", "link", l.ID)
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
	id := l.ID
	for {
		// Watch before reading, so a change between the two is not missed.
		changed, stop := h.links.Watch(id)
		l, err := h.links.Get(r.Context(), id)
		if errors.Is(err, ErrNoLink) {
			l = &link{Closed: true} // forgotten after its grace period
		} else if err != nil {
			stop()
			h.log.Error("reading a consent link for its event stream; the device will reconnect", "err", err.Error())
			return
		}
		var batch []Answer
		for _, a := range l.Answers {
			if a.Seq > after {
				batch = append(batch, a)
			}
		}
		now := h.now()
		ended, closed, expires := l.ended(now), l.Closed, l.Expires
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
				stop()
				return
			}
			buf.Reset()
			if err := rc.Flush(); err != nil {
				stop()
				return
			}
		}
		if ended {
			stop()
			return
		}
		timer := time.NewTimer(max(expires.Sub(now), time.Millisecond))
		select {
		case <-r.Context().Done():
		case <-h.closing:
			// Graceful shutdown: end the stream so the device reconnects
			// (with Last-Event-ID) to another replica.
		case <-changed:
		case <-timer.C:
		case <-hb.C:
			buf.WriteString(": keep-alive\n\n")
		}
		timer.Stop()
		stop()
		if r.Context().Err() != nil || h.isClosing() {
			return
		}
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
	l        *link // a copy read from the LinkStore
	sl       *slot // nil: the call URL
	decision string
	name     string
	slotLang string
	full     bool
	msg      string // a status message that replaces the page (e.g. rate limited)
}

func (h *Handler) look(ctx context.Context, token string) (view, error) {
	id, slotID, err := h.links.Token(ctx, hashToken(token))
	if errors.Is(err, ErrNoLink) {
		return view{}, nil
	}
	if err != nil {
		return view{}, err
	}
	l, err := h.links.Get(ctx, id)
	if errors.Is(err, ErrNoLink) {
		return view{}, nil
	}
	if err != nil {
		return view{}, err
	}
	v := view{found: true, l: l, ended: l.ended(h.now()), closed: l.Closed}
	if slotID != "" {
		if v.sl = l.slot(slotID); v.sl == nil {
			return view{}, nil
		}
		v.decision, v.name, v.slotLang = v.sl.Decision, v.sl.Name, v.sl.Lang
	} else {
		v.full = true
		for _, s := range l.Slots {
			if s.Open && !s.Claimed {
				v.full = false
			}
		}
	}
	return v, nil
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, v view, lang string, f *Form, errMsg string) {
	n := nonce()
	securityHeaders(w, n)
	d := pageData{Lang: lang, Nonce: n, W: func(k string) string { return word(lang, k) }, Error: errMsg}
	d.Title = d.W("title")
	if v.l != nil {
		d.Controller = v.l.Controller
		for _, l := range v.l.Langs {
			name := langNames[base(l)]
			if name == "" {
				name = l
			}
			d.Langs = append(d.Langs, langLink{Code: l, Name: name, Current: l == lang})
		}
		t := v.l.Texts[lang]
		d.NoticeTitle, d.Notice = renderNotice(t.Text)
		if d.NoticeTitle == "" {
			d.NoticeTitle = d.Title
		}
		d.NoticeSHA = t.SHA256
		d.NoticeRef = v.l.Notice.ID + " v" + v.l.Notice.Version + " · " + t.SHA256[:12]
		d.AgeText = fmt.Sprintf(d.W("age"), v.l.MinAge)
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
	ok, wait := h.take(r.Context(), lim, key)
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
	v, err := h.look(r.Context(), r.PathValue("token"))
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	lang := "en"
	if v.found {
		lang = pickLang(v.l.Langs, r.URL.Query().Get("lang"), r.Header.Get("Accept-Language"), v.slotLang)
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
	v, err := h.look(r.Context(), token)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	lang := "en"
	if v.found {
		lang = pickLang(v.l.Langs, r.PostForm.Get("lang"), r.Header.Get("Accept-Language"), v.slotLang)
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
	status, msg, redirect, err := h.apply(r.Context(), v, token, f)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	if redirect != "" {
		http.Redirect(w, r, redirect+"?lang="+url.QueryEscape(f.Lang), http.StatusSeeOther)
		return
	}
	if v, err = h.look(r.Context(), token); err != nil {
		h.pageError(w, r, err)
		return
	}
	h.render(w, r, status, v, lang, &f, msg)
}

// apply records one answer, atomically on the stored link (every replica
// sees the same slots). It returns either where to redirect (success) or
// the status and message of the re-rendered page.
func (h *Handler) apply(ctx context.Context, v view, token string, f Form) (status int, msg, redirect string, err error) {
	var slotID, newTok string
	if v.sl != nil {
		slotID = v.sl.ID
	}
	err = h.links.Update(ctx, v.l.ID, func(l *link) (map[string]string, error) {
		now := h.now()
		if l.ended(now) {
			status = http.StatusGone
			return nil, errNoChange
		}
		t, ok := l.Texts[f.Lang]
		if !ok || (f.Decision != Withdrawn && t.SHA256 != f.SHA256) {
			status, msg = http.StatusConflict, word(f.Lang, "stale")
			return nil, errNoChange
		}
		if f.Decision == Given && !f.AgeConfirmed {
			status, msg = http.StatusUnprocessableEntity, word(f.Lang, "needAge")
			return nil, errNoChange
		}
		var sl *slot
		var index map[string]string
		if slotID == "" {
			// The call URL: a visitor claims an open slot with their name.
			if f.Decision == Withdrawn {
				status, msg = http.StatusConflict, word(f.Lang, "answered")
				return nil, errNoChange
			}
			if f.Name == "" {
				status, msg = http.StatusUnprocessableEntity, word(f.Lang, "needName")
				return nil, errNoChange
			}
			for _, s := range l.Slots {
				if s.Open && !s.Claimed {
					sl = s
					break
				}
			}
			if sl == nil {
				status, msg = http.StatusConflict, word(f.Lang, "full")
				return nil, errNoChange
			}
			var hash string
			newTok, hash = newToken()
			sl.Claimed, sl.TokenHash, sl.Name = true, hash, f.Name
			index = map[string]string{hash: sl.ID}
		} else {
			if sl = l.slot(slotID); sl == nil {
				status = http.StatusNotFound
				return nil, errNoChange
			}
			switch {
			case f.Decision == Withdrawn && sl.Decision != Given,
				f.Decision != Withdrawn && sl.Decision != "":
				status, msg = http.StatusConflict, word(f.Lang, "answered")
				return nil, errNoChange
			}
		}
		sl.Decision = f.Decision
		a := Answer{Seq: int64(len(l.Answers) + 1), Slot: sl.ID, Ref: sl.Ref, Decision: f.Decision,
			AgeConfirmed: f.AgeConfirmed && f.Decision == Given,
			Notice:       NoticeRef{ID: l.Notice.ID, Version: l.Notice.Version, Lang: f.Lang, SHA256: t.SHA256},
			Time:         now.UTC(), Evidence: sl.TokenHash}
		if sl.Open {
			a.Name = sl.Name
		}
		l.Answers = append(l.Answers, a)
		h.log.Info("consent answer", "link", l.ID, "slot", sl.ID, "decision", f.Decision)
		return index, nil
	})
	switch {
	case errors.Is(err, errNoChange):
		return status, msg, "", nil
	case errors.Is(err, ErrNoLink):
		return http.StatusNotFound, "", "", nil
	case err != nil:
		return 0, "", "", err
	}
	if newTok != "" {
		return http.StatusSeeOther, "", "/c/" + newTok, nil
	}
	return http.StatusSeeOther, "", "/c/" + token, nil
}

// sharedRate is a LinkStore whose rate-limit buckets every replica shares.
type sharedRate interface {
	Take(ctx context.Context, key string, r Rate, now time.Time) (bool, time.Duration, error)
}

// take asks the shared buckets (SQLLinks: limits hold across replicas), or
// this process's when the store has none or does not answer.
func (h *Handler) take(ctx context.Context, lim *limiter, key string) (bool, time.Duration) {
	if sr, ok := h.links.(sharedRate); ok {
		ok, wait, err := sr.Take(ctx, hashToken(key), lim.rate, h.now())
		if err == nil {
			return ok, wait
		}
		h.log.Error("shared rate limit unavailable; using this replica's", "err", err.Error())
	}
	return lim.allow(key, h.now())
}

// errNoChange aborts a LinkStore update that found nothing to apply.
var errNoChange = errors.New("consentpage: no change")

// internalError answers a device request whose storage step failed.
func (h *Handler) internalError(w http.ResponseWriter, what string, err error) {
	h.log.Error(what+" failed", "err", err.Error())
	problem(w, http.StatusInternalServerError, "internal", "Internal error", what+" failed on the server; nothing was changed. Retry in a moment; if it persists, the administrator should check the server log.")
}

// pageError answers a participant whose page could not be read or saved.
func (h *Handler) pageError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("consent page: storage failed", "err", err.Error())
	w.Header().Set("Retry-After", "5")
	lang := pickLang([]string{"en", "nl", "de", "fr"}, r.URL.Query().Get("lang"), r.Header.Get("Accept-Language"), "")
	h.render(w, r, http.StatusServiceUnavailable, view{msg: "unavailable"}, lang, nil, "")
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
