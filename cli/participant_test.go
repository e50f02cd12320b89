package cli

import (
	"errors"
	"testing"
	"unicode"
)

func TestParseParticipant(t *testing.T) {
	for _, c := range []struct{ in, name, email, lang string }{
		{"Bob", "Bob", "", "en"},
		{"Ana Silva <ana@example.com>", "Ana Silva", "ana@example.com", "en"},
		{"Jan de Vries <jan@example.nl> [nl]", "Jan de Vries", "jan@example.nl", "nl"},
		{"  Zoë [fr] ", "Zoë", "", "fr"},
	} {
		p, err := parseParticipant(c.in, "en")
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if p.Name != c.name || p.Email != c.email || p.Lang != c.lang {
			t.Errorf("%q: got %+v", c.in, p)
		}
	}
}

func TestBadInputGetsClearError_Participant(t *testing.T) {
	for _, in := range []string{"", "   ", "<ana@example.com>", "Ana <not an address>", "Ana <ana@example.com", "A\x00b", "\xff"} {
		if _, err := parseParticipant(in, "en"); !errors.Is(err, ErrBadParticipant) {
			t.Errorf("%q: got %v, want ErrBadParticipant", in, err)
		}
	}
}

func FuzzParseParticipant(f *testing.F) {
	for _, s := range []string{"Bob", "Ana Silva <ana@example.com> [nl]", "<>", "a <b@c> [zz-ZZ]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseParticipant(s, "en")
		if err != nil {
			if !errors.Is(err, ErrBadParticipant) {
				t.Fatalf("unwrapped error %v", err)
			}
			return
		}
		if p.Name == "" || p.Lang == "" {
			t.Fatalf("accepted %q as %+v", s, p)
		}
		for _, r := range p.Name {
			if unicode.IsControl(r) {
				t.Fatalf("control character in name %q", p.Name)
			}
		}
	})
}
