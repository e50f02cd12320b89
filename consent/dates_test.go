package consent

import (
	"testing"
	"time"
)

// Dates in receipts are written in the participant's language, never in
// another language's month names.
func TestDatesInTheReadersLanguage(t *testing.T) {
	at := time.Date(2026, time.March, 2, 14, 5, 9, 0, time.UTC)
	for lang, want := range map[string]string{
		"en": "2 March 2026, 14:05:09",
		"nl": "2 maart 2026 14:05:09",
		"de": "2. März 2026, 14:05:09",
		"fr": "2 mars 2026 à 14:05:09",
		"xx": "2 March 2026, 14:05:09",
	} {
		if got := FormatDate(at, lang, true); got != want {
			t.Errorf("%s: %q, want %q", lang, got, want)
		}
	}
	if got := FormatDate(at, "de", false); got != "2. März 2026, 14:05" {
		t.Errorf("without seconds: %q", got)
	}
}
