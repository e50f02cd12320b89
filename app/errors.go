package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"fyne.io/fyne/v2/lang"

	"github.com/assent-app/assent/vault"
)

// Errors as a rep reads them: libraries return typed errors; here they
// become what happened and what to do, in the user's language. What a rep
// must not read (package prefixes, D-Bus names, file paths of the program)
// goes to the log only.

// plainErr turns a backend error into a plain-language message.
func plainErr(err error) string {
	if err == nil {
		return ""
	}
	var urlErr *url.Error
	var netErr *net.OpError
	switch {
	case errors.Is(err, vault.ErrDiskFull):
		slog.Warn("disk full", "err", err)
		return lang.L("The disk is full.") + " " + lang.L("Free some space (empty the bin, or delete recordings you no longer need), then try again.")
	case errors.Is(err, vault.ErrNoSessionBus):
		return lang.L("No Secret Service session is running, so there is nowhere safe to keep the encryption key.") + " " +
			lang.L("Log in to a full desktop session, or start a keyring (GNOME Keyring or KeePassXC), then try again.")
	case errors.Is(err, vault.ErrNoSecretService):
		return lang.L("No keyring (Secret Service) is running in this desktop session.") + " " +
			lang.L("Install and start GNOME Keyring, or KeePassXC with Secret Service enabled, then try again.")
	case errors.Is(err, vault.ErrKeyringLocked):
		return lang.L("The system keyring is locked.") + " " + lang.L("Unlock it (it may be asking for your password), then try again.")
	case errors.As(err, &urlErr) || errors.As(err, &netErr):
		slog.Warn("server unreachable", "err", err)
		return lang.L("The server could not be reached.") + " " + lang.L("Check your network connection and the server address in Settings, then try again. Recordings stay on this laptop, encrypted, until it can be reached.")
	case errors.Is(err, vault.ErrKeyringTimeout):
		return lang.L("The system keyring did not answer in time.") + " " + lang.L("If it asks for your password, unlock it, then try again.")
	}
	return trErr(errors.New(scrub(err)))
}

var (
	pkgPrefix = regexp.MustCompile(`^(vault|audio|sync|consent|recording|workspace|desktop|remote|config|dbus): `)
	leaky     = regexp.MustCompile(`/org/freedesktop|org\.freedesktop\.|\.go:\d+|github\.com/|goroutine `)
)

// scrub takes package prefixes off a message; a message that still shows
// D-Bus names or source paths is logged and replaced by a general sentence.
func scrub(err error) string {
	msg := err.Error()
	for pkgPrefix.MatchString(msg) {
		msg = pkgPrefix.ReplaceAllString(msg, "")
	}
	if leaky.MatchString(msg) {
		slog.Warn("error shown in general words", "err", err)
		return "Something went wrong inside Assent. Try again; if it keeps happening, send the log to your administrator."
	}
	return msg
}

// keptSentence says what was kept of a call that failed.
func keptSentence(s CallState) string {
	if s.RecordingID == "" || s.Recorded <= 0 {
		return lang.L("Nothing was recorded.")
	}
	return fmt.Sprintf(lang.L("The first %s are saved, encrypted, with their consent record."), strings.TrimSpace(humanDuration(s.Recorded)))
}

// humanDuration says a duration the way people do: "16 s", "2 min 5 s".
func humanDuration(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s < 3600:
		if s%60 == 0 {
			return fmt.Sprintf("%d min", s/60)
		}
		return fmt.Sprintf("%d min %d s", s/60, s%60)
	}
	return fmt.Sprintf("%d h %d min", s/3600, s/60%60)
}
