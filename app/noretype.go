package app

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2/lang"

	"github.com/assent-app/assent/consent"
)

// No retyping, no traps (issue 13 item 3): helpers of the small, marked
// hooks in screens_call.go.

// untitled gives a call without a title a useful one: who and when.
func untitled(s CallSetup, now time.Time) string {
	var names []string
	for _, p := range s.Participants {
		names = append(names, p.Name)
	}
	when := consent.FormatDate(now, uiLanguageCode(), false)
	if len(names) == 0 {
		return fmt.Sprintf(lang.L("Call on %s"), when)
	}
	if len(names) > 3 {
		names = append(names[:3], fmt.Sprintf(lang.L("%d more"), len(names)-3))
	}
	return fmt.Sprintf(lang.L("Call with %s, %s"), strings.Join(names, ", "), when)
}

// keepForRetry keeps the setup of a call that ended before anything was
// recorded (a refusal, or Cancel call), so the new-call screen shows its
// title and participants again for another try.
func (u *UI) keepForRetry(s CallState) {
	if u.callSetup == nil || s.RecordingID != "" {
		u.callSetup = nil
		return
	}
	u.retrySetup = u.callSetup
	u.callSetup = nil
}

// takeRetry returns the kept setup once (nil if none).
func (u *UI) takeRetry() *CallSetup {
	s := u.retrySetup
	u.retrySetup = nil
	return s
}

// consentProgress says who has agreed and who is still to answer.
func consentProgress(ps []Participant) string {
	var agreed, waiting []string
	for _, p := range ps {
		switch p.State {
		case Given:
			agreed = append(agreed, p.Name)
		case Pending:
			waiting = append(waiting, p.Name)
		}
	}
	none := lang.L("nobody yet")
	a, w := strings.Join(agreed, ", "), strings.Join(waiting, ", ")
	if a == "" {
		a = none
	}
	if w == "" {
		w = none
	}
	return fmt.Sprintf(lang.L("Agreed: %s · Still to answer: %s"), a, w)
}

// uiLanguageCode is the two-letter code of the language the screens are in.
func uiLanguageCode() string {
	l := lang.SystemLocale().LanguageString()
	if i := strings.IndexAny(l, "-_"); i > 0 {
		l = l[:i]
	}
	return strings.ToLower(l)
}
