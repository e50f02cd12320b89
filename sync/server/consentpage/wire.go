package consentpage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of a link request.
const (
	DefaultExpiry = 3 * time.Hour
	MaxExpiry     = 12 * time.Hour
	MaxSlots      = 50       // named + open slots of one link
	MaxLangs      = 16       // notice languages of one link
	MaxNoticeText = 64 << 10 // bytes of one notice text
	MaxRequest    = MaxLangs*MaxNoticeText + 64<<10
	MaxNameLen    = 80 // characters of a participant's name
)

// Decisions a participant can send.
const (
	Given     = "given"
	Refused   = "refused"
	Withdrawn = "withdrawn"
)

// NoticeText is the notice in one language, exactly as the device shows it.
type NoticeText struct {
	Lang   string `json:"lang"`
	Text   string `json:"text"`   // Markdown, as rendered by consent.Library
	SHA256 string `json:"sha256"` // hex SHA-256 of Text; the server re-hashes it
}

// Notice is the notice version of the call in every language offered.
type Notice struct {
	ID      string       `json:"id"`
	Version string       `json:"version"`
	Texts   []NoticeText `json:"texts"`
}

// Slot is a participant the host already knows.
type Slot struct {
	Ref  string `json:"ref"`  // the device's participant id; echoed, never shown
	Name string `json:"name"` // shown on the page ("For: Ana")
	Lang string `json:"lang"` // preferred language (one of the notice's)
}

// LinkRequest is the body of POST /v1/consent-links.
type LinkRequest struct {
	RecordingID      string `json:"recordingId"`
	Controller       string `json:"controller,omitempty"` // organisation name for the page title
	Notice           Notice `json:"notice"`
	MinAge           int    `json:"minAge"`
	Slots            []Slot `json:"slots,omitempty"`
	OpenSlots        int    `json:"openSlots,omitempty"`        // visitors of the call URL who give their name
	ExpiresInSeconds int    `json:"expiresInSeconds,omitempty"` // 0: 3 h; at most 12 h
}

// SlotLink is one slot's personal URL in a LinkResponse.
type SlotLink struct {
	Slot string `json:"slot"`
	Ref  string `json:"ref"`
	URL  string `json:"url"`
}

// LinkResponse answers POST /v1/consent-links.
type LinkResponse struct {
	ID        string     `json:"id"`
	ExpiresAt time.Time  `json:"expiresAt"`
	CallURL   string     `json:"callUrl,omitempty"` // for open slots: paste in the meeting chat / QR code
	Slots     []SlotLink `json:"slots"`
	EventsURL string     `json:"eventsUrl"`
}

// NoticeRef names the exact notice text a page displayed.
type NoticeRef struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Lang    string `json:"lang"`
	SHA256  string `json:"sha256"`
}

// Answer is one participant's answer, as streamed to the device.
type Answer struct {
	Seq          int64     `json:"seq"`
	Slot         string    `json:"slot"`
	Ref          string    `json:"ref,omitempty"`  // the device's participant id (named slots)
	Name         string    `json:"name,omitempty"` // the name the visitor gave (open slots)
	Decision     string    `json:"decision"`       // given, refused or withdrawn
	AgeConfirmed bool      `json:"ageConfirmed"`
	Notice       NoticeRef `json:"notice"`
	Time         time.Time `json:"time"`
	Evidence     string    `json:"evidence"` // hex SHA-256 of the slot's token
}

// ErrBadRequest wraps every validation failure of what clients send.
var ErrBadRequest = errors.New("consentpage: bad request")

var (
	refRe    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	idRe     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	verRe    = regexp.MustCompile(`^[0-9]{1,6}(\.[0-9]{1,6}){0,2}$`)
	langRe   = regexp.MustCompile(`^[a-z]{2,3}(-[A-Z]{2})?$`)
	hexRe    = regexp.MustCompile(`^[0-9a-f]{64}$`)
	recIDRe  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)
	minAgeLo = 13
	minAgeHi = 18
)

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadRequest}, a...)...)
}

// ParseLinkRequest decodes and checks a link request: every notice text must
// hash to the SHA-256 sent with it, slot languages must be among the
// notice's, and the expiry within 12 h. It returns the expiry to use.
func ParseLinkRequest(body []byte) (LinkRequest, time.Duration, error) {
	var req LinkRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, 0, bad("the body is not a valid link request (%v); see docs/remote-consent.md", err)
	}
	if dec.More() {
		return req, 0, bad("the body holds more than one JSON value; send one object")
	}
	if !recIDRe.MatchString(req.RecordingID) {
		return req, 0, bad("recordingId %q must be 1–128 letters, digits, '.', '_' or '-'", req.RecordingID)
	}
	if !idRe.MatchString(req.Notice.ID) || !verRe.MatchString(req.Notice.Version) {
		return req, 0, bad("notice id %q / version %q are not of the form call-recording / 1.2", req.Notice.ID, req.Notice.Version)
	}
	if len(req.Notice.Texts) == 0 || len(req.Notice.Texts) > MaxLangs {
		return req, 0, bad("the notice has %d texts; send 1–%d languages", len(req.Notice.Texts), MaxLangs)
	}
	langs := map[string]bool{}
	for i, t := range req.Notice.Texts {
		if !langRe.MatchString(t.Lang) {
			return req, 0, bad("notice text %d: language %q is not a code like \"en\" or \"pt-BR\"", i, t.Lang)
		}
		if langs[t.Lang] {
			return req, 0, bad("notice language %q is sent twice", t.Lang)
		}
		langs[t.Lang] = true
		if t.Text == "" || len(t.Text) > MaxNoticeText || !utf8.ValidString(t.Text) {
			return req, 0, bad("notice text %q is empty, not UTF-8 or longer than %d bytes", t.Lang, MaxNoticeText)
		}
		if !hexRe.MatchString(t.SHA256) {
			return req, 0, bad("notice text %q: sha256 must be 64 lower-case hex digits", t.Lang)
		}
		if sum := sha256.Sum256([]byte(t.Text)); hex.EncodeToString(sum[:]) != t.SHA256 {
			return req, 0, bad("notice text %q does not match its sha256 (the server hashed %s); send the exact text the device shows", t.Lang, hex.EncodeToString(sum[:]))
		}
	}
	if req.MinAge < minAgeLo || req.MinAge > minAgeHi {
		return req, 0, bad("minAge %d is outside %d–%d", req.MinAge, minAgeLo, minAgeHi)
	}
	if len(req.Controller) > 200 || !printable(req.Controller) {
		return req, 0, bad("controller must be at most 200 printable characters")
	}
	if req.OpenSlots < 0 || len(req.Slots)+req.OpenSlots == 0 || len(req.Slots)+req.OpenSlots > MaxSlots {
		return req, 0, bad("a link needs 1–%d slots (named slots + openSlots), got %d + %d", MaxSlots, len(req.Slots), req.OpenSlots)
	}
	refs := map[string]bool{}
	for i, s := range req.Slots {
		if !refRe.MatchString(s.Ref) {
			return req, 0, bad("slot %d: ref %q must be 1–64 letters, digits, '_' or '-' (the device's participant id)", i, s.Ref)
		}
		if refs[s.Ref] {
			return req, 0, bad("slot ref %q is sent twice", s.Ref)
		}
		refs[s.Ref] = true
		if _, err := CleanName(s.Name); err != nil {
			return req, 0, bad("slot %q: %v", s.Ref, err)
		}
		if !langs[s.Lang] {
			return req, 0, bad("slot %q: language %q has no notice text in this request", s.Ref, s.Lang)
		}
	}
	exp := time.Duration(req.ExpiresInSeconds) * time.Second
	switch {
	case req.ExpiresInSeconds < 0 || exp > MaxExpiry:
		return req, 0, bad("expiresInSeconds %d is outside 0–%d (12 h)", req.ExpiresInSeconds, int(MaxExpiry/time.Second))
	case req.ExpiresInSeconds == 0:
		exp = DefaultExpiry
	case exp < time.Minute:
		return req, 0, bad("expiresInSeconds %d is less than a minute", req.ExpiresInSeconds)
	}
	return req, exp, nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.In(r, unicode.Cf) {
			return false
		}
	}
	return true
}

// CleanName trims a participant's name and checks it: 1–80 printable
// characters.
func CleanName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", errors.New("the name is empty")
	case utf8.RuneCountInString(s) > MaxNameLen:
		return "", fmt.Errorf("the name is longer than %d characters", MaxNameLen)
	case !printable(s):
		return "", errors.New("the name holds control or invisible formatting characters")
	}
	return s, nil
}

// Form is a participant's form post, parsed.
type Form struct {
	Decision     string
	Name         string // open slots only
	AgeConfirmed bool
	Lang         string
	SHA256       string // of the notice text the page displayed
}

// ParseForm checks the fields of a POST /c/{token} body (already parsed
// into values). It does not know the link; the handler checks Lang and
// SHA256 against it.
func ParseForm(get func(string) string) (Form, error) {
	f := Form{Decision: get("decision"), Lang: get("lang"), SHA256: get("notice")}
	switch f.Decision {
	case Given, Refused, Withdrawn:
	default:
		return f, bad("decision must be given, refused or withdrawn")
	}
	switch get("age") {
	case "", "no":
	case "yes":
		f.AgeConfirmed = true
	default:
		return f, bad("age must be yes or absent")
	}
	if !langRe.MatchString(f.Lang) {
		return f, bad("lang must be a language code")
	}
	if f.Decision != Withdrawn && !hexRe.MatchString(f.SHA256) {
		return f, bad("notice must be the 64-hex SHA-256 of the displayed text")
	}
	if n := get("name"); n != "" {
		name, err := CleanName(n)
		if err != nil {
			return f, bad("%v", err)
		}
		f.Name = name
	}
	return f, nil
}
