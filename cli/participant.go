package cli

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/assent-app/assent/consent"
)

var langSuffix = regexp.MustCompile(`\s*\[([a-z]{2,3}(?:-[A-Z]{2})?)\]\s*$`)

// ErrBadParticipant is wrapped by every participant parsing error.
var ErrBadParticipant = errors.New("bad participant")

// parseParticipant reads `Name`, `Name <email>` or either followed by a
// language in brackets, e.g. `Ana Silva <ana@example.com> [nl]`.
func parseParticipant(s, defLang string) (consent.Principal, error) {
	p := consent.Principal{Lang: defLang}
	if !utf8.ValidString(s) {
		return p, fmt.Errorf("%w: %q is not valid UTF-8 text", ErrBadParticipant, s)
	}
	if m := langSuffix.FindStringSubmatch(s); m != nil {
		p.Lang = m[1]
		s = s[:len(s)-len(m[0])]
	}
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if !strings.HasSuffix(s, ">") {
			return p, fmt.Errorf("%w: %q: write the e-mail address as Name <name@example.com>", ErrBadParticipant, s)
		}
		addr, err := mail.ParseAddress(s)
		if err != nil || addr.Name == "" {
			return p, fmt.Errorf("%w: %q: write it as \"Name <name@example.com>\" (a name and a valid e-mail address)", ErrBadParticipant, s)
		}
		p.Name, p.Email = strings.TrimSpace(addr.Name), addr.Address
	} else {
		p.Name = s
	}
	if p.Name == "" {
		return p, fmt.Errorf("%w: a participant needs a name, e.g. --participant \"Ana Silva <ana@example.com>\"", ErrBadParticipant)
	}
	if len(p.Name) > 200 {
		return p, fmt.Errorf("%w: the name is longer than 200 bytes", ErrBadParticipant)
	}
	for _, r := range p.Name {
		if unicode.IsControl(r) {
			return p, fmt.Errorf("%w: the name contains a control character", ErrBadParticipant)
		}
	}
	return p, nil
}
