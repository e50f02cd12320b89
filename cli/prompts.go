package cli

import (
	"fmt"
	"regexp"
	"strings"
)

// What a participant reads in the terminal is in their own language (the
// [lang] suffix of --participant or of 'j NAME [lang]'), independent of the
// host's. Every key exists in every language the notices ship in
// (TestCLIPromptsWholeLanguages).
var prompts = map[string]map[string]string{
	"en": {
		"notice":    "Recording notice",
		"agree?":    "%s: do you agree to this call being recorded? Type \"I agree\" or \"no\": ",
		"agree!":    "Please type \"I agree\" or \"no\".",
		"age?":      "%s: are you at least %d years old? Type \"yes\" or \"no\": ",
		"age!":      "Please type \"yes\" or \"no\".",
		"verbal?":   "Read the notice above to %s. Did they say they agree? Type \"yes\" or \"no\": ",
		"verbage?":  "Did %s say they are at least %d years old? Type \"yes\" or \"no\": ",
		"agreed":    "✓ %s agreed.",
		"notagreed": "✗ %s did not agree.",
	},
	"nl": {
		"notice":    "Opnamemelding",
		"agree?":    "%s: gaat u akkoord met het opnemen van dit gesprek? Typ \"ik ga akkoord\" of \"nee\": ",
		"agree!":    "Typ \"ik ga akkoord\" of \"nee\".",
		"age?":      "%s: bent u minstens %d jaar oud? Typ \"ja\" of \"nee\": ",
		"age!":      "Typ \"ja\" of \"nee\".",
		"verbal?":   "Lees de melding hierboven voor aan %s. Zei die persoon akkoord te gaan? Typ \"ja\" of \"nee\": ",
		"verbage?":  "Zei %s minstens %d jaar oud te zijn? Typ \"ja\" of \"nee\": ",
		"agreed":    "✓ %s gaat akkoord.",
		"notagreed": "✗ %s gaat niet akkoord.",
	},
	"de": {
		"notice":    "Hinweis zur Aufnahme",
		"agree?":    "%s: Sind Sie damit einverstanden, dass dieses Gespräch aufgenommen wird? Tippen Sie „ich stimme zu“ oder „nein“: ",
		"agree!":    "Bitte tippen Sie „ich stimme zu“ oder „nein“.",
		"age?":      "%s: Sind Sie mindestens %d Jahre alt? Tippen Sie „ja“ oder „nein“: ",
		"age!":      "Bitte tippen Sie „ja“ oder „nein“.",
		"verbal?":   "Lesen Sie %s den Hinweis oben vor. Hat die Person zugestimmt? Tippen Sie „ja“ oder „nein“: ",
		"verbage?":  "Hat %s gesagt, mindestens %d Jahre alt zu sein? Tippen Sie „ja“ oder „nein“: ",
		"agreed":    "✓ %s hat zugestimmt.",
		"notagreed": "✗ %s hat nicht zugestimmt.",
	},
	"fr": {
		"notice":    "Avis d'enregistrement",
		"agree?":    "%s : acceptez-vous que cet appel soit enregistré ? Tapez « j'accepte » ou « non » : ",
		"agree!":    "Veuillez taper « j'accepte » ou « non ».",
		"age?":      "%s : avez-vous au moins %d ans ? Tapez « oui » ou « non » : ",
		"age!":      "Veuillez taper « oui » ou « non ».",
		"verbal?":   "Lisez l'avis ci-dessus à %s. Cette personne a-t-elle dit accepter ? Tapez « oui » ou « non » : ",
		"verbage?":  "%s a-t-il ou a-t-elle dit avoir au moins %d ans ? Tapez « oui » ou « non » : ",
		"agreed":    "✓ %s a accepté.",
		"notagreed": "✗ %s n'a pas accepté.",
	},
}

// say returns the prompt key in lang (English if the language has none).
func say(lang, key string, a ...any) string {
	m, ok := prompts[lang]
	if !ok {
		m = prompts["en"]
	}
	s, ok := m[key]
	if !ok {
		s = prompts["en"][key]
	}
	if len(a) == 0 {
		return s
	}
	return fmt.Sprintf(s, a...)
}

var (
	mdHeading = regexp.MustCompile(`(?m)^#{1,6}\s+(.*)$`)
	mdStrong  = regexp.MustCompile(`\*\*([^*]+)\*\*|__([^_]+)__`)
	mdEm      = regexp.MustCompile(`(^|[\s(])[*_]([^*_\s][^*_]*)[*_]`)
	mdLink    = regexp.MustCompile(`\[([^\]]+)\]\(([^)]+)\)`)
	mdBullet  = regexp.MustCompile(`(?m)^(\s*)[-*+]\s+`)
)

// plainText renders a notice's Markdown as terminal text: headings become
// underlined lines, emphasis and link markup go, bullets become "•". The
// words are exactly the notice's (its hash is of the Markdown).
func plainText(md string) string {
	s := strings.ReplaceAll(md, "\r\n", "\n")
	s = mdHeading.ReplaceAllStringFunc(s, func(h string) string {
		t := strings.TrimSpace(mdHeading.FindStringSubmatch(h)[1])
		return t + "\n" + strings.Repeat("=", len([]rune(t)))
	})
	s = mdStrong.ReplaceAllString(s, "$1$2")
	s = mdEm.ReplaceAllString(s, "$1$2")
	s = mdLink.ReplaceAllString(s, "$1 ($2)")
	s = mdBullet.ReplaceAllString(s, "$1• ")
	return strings.TrimSpace(s)
}
