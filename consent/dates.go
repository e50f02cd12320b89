package consent

import (
	"fmt"
	"time"
)

// monthNames are the month names of each language Assent speaks.
var monthNames = map[string][12]string{
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	"nl": {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
	"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
	"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
}

// FormatDate writes a date and time the way a reader of lang expects
// ("2 December 2026, 14:05", "2 december 2026 14:05", "2. Dezember 2026,
// 14:05", "2 décembre 2026 à 14:05"), in t's own time zone; English for a
// language Assent does not speak. withSeconds adds the seconds. It is the
// one place dates are localised: receipts, the app and the command line.
func FormatDate(t time.Time, lang string, withSeconds bool) string {
	m, ok := monthNames[lang]
	if !ok {
		lang, m = "en", monthNames["en"]
	}
	clock := t.Format("15:04")
	if withSeconds {
		clock = t.Format("15:04:05")
	}
	month := m[t.Month()-1]
	switch lang {
	case "nl":
		return fmt.Sprintf("%d %s %d %s", t.Day(), month, t.Year(), clock)
	case "de":
		return fmt.Sprintf("%d. %s %d, %s", t.Day(), month, t.Year(), clock)
	case "fr":
		return fmt.Sprintf("%d %s %d à %s", t.Day(), month, t.Year(), clock)
	}
	return fmt.Sprintf("%d %s %d, %s", t.Day(), month, t.Year(), clock)
}
