package app

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/assent-app/assent/vault"
)

// Every failure a rep can meet is a dialog that says what happened, what
// was kept and what to do — never a package path, D-Bus name or file name.
func TestBadInputGetsClearError_PlainLanguageDialogs(t *testing.T) {
	noLeak := func(t *testing.T, msg string) {
		t.Helper()
		for _, bad := range []string{"vault:", "freedesktop", "dbus", ".go:", "github.com", "goroutine"} {
			if strings.Contains(msg, bad) {
				t.Errorf("dialog shows %q: %q", bad, msg)
			}
		}
	}
	t.Run("disk full mid-call", func(t *testing.T) {
		u, fb := newTestUI(t, true)
		startCall(t, u, "Alice")
		agree(t, u)
		ticks(fb, 800) // 16 s of admitted audio
		fb.FailCalls(fmt.Errorf("vault: sealing segment 4: %w", vault.ErrDiskFull))
		u.Refresh()
		msg := overlayText(u)
		for _, want := range []string{"the disk is full", "the first 16 s are saved, encrypted", "free some space"} {
			if !strings.Contains(msg, want) {
				t.Errorf("disk-full dialog lacks %q: %q", want, msg)
			}
		}
		noLeak(t, msg)
	})
	t.Run("device unplugged before anything was recorded", func(t *testing.T) {
		u, fb := newTestUI(t, true)
		startCall(t, u, "Alice")
		agree(t, u)
		fb.FailCalls(errors.New("audio: capturing the microphone failed — was the device unplugged or the sound server stopped?"))
		u.Refresh()
		msg := overlayText(u)
		if !strings.Contains(msg, "was the device unplugged") || !strings.Contains(msg, "nothing was recorded") {
			t.Errorf("unplugged dialog: %q", msg)
		}
		noLeak(t, msg)
	})
	t.Run("keyring locked", func(t *testing.T) {
		u, fb := newTestUI(t, true)
		fb.FailNext(&vault.KeyringError{Problem: vault.KeyringLocked,
			Err: errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'")})
		startCall(t, u, "Alice")
		msg := overlayText(u)
		if !strings.Contains(msg, "the system keyring is locked") || !strings.Contains(msg, "unlock it") {
			t.Errorf("locked dialog: %q", msg)
		}
		noLeak(t, msg)
	})
	t.Run("no session bus", func(t *testing.T) {
		u, fb := newTestUI(t, true)
		fb.FailNext(&vault.KeyringError{Problem: vault.KeyringNoBus, Err: vault.ErrNoSessionBus})
		startCall(t, u, "Alice")
		msg := overlayText(u)
		if !strings.Contains(msg, "no secret service session is running") {
			t.Errorf("no-bus dialog: %q", msg)
		}
		noLeak(t, msg)
	})
	t.Run("server unreachable", func(t *testing.T) {
		u, fb := newTestUI(t, true)
		fb.FailNext(&url.Error{Op: "Post", URL: "https://assent.example/v1/enrol", Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}})
		u.tabs.SelectIndex(2)
		el[*widget.Entry](t, u, "server").SetText("https://assent.example")
		el[*widget.Entry](t, u, "code").SetText("ABCD1234")
		test.Tap(el[*widget.Button](t, u, "enrol"))
		msg := overlayText(u)
		if !strings.Contains(msg, "the server could not be reached") || !strings.Contains(msg, "stay on this laptop, encrypted") {
			t.Errorf("unreachable dialog: %q", msg)
		}
		noLeak(t, msg)
	})
	t.Run("anything else that leaks internals", func(t *testing.T) {
		u, fb := newTestUI(t, true)
		fb.FailNext(errors.New("dbus: call to /org/freedesktop/secrets/collection/login failed"))
		startCall(t, u, "Alice")
		msg := overlayText(u)
		if !strings.Contains(msg, "something went wrong inside assent") {
			t.Errorf("leaky error shown as %q", msg)
		}
		noLeak(t, msg)
	})
}
