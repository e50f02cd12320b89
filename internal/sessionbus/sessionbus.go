// Package sessionbus tells whether a D-Bus session bus exists, without
// starting one, and keeps the D-Bus library from starting one.
//
// The D-Bus library under go-keyring and Fyne (godbus) autolaunches a
// private bus with dbus-launch when DBUS_SESSION_BUS_ADDRESS is not set and
// the user's runtime directory has no bus socket: one more dbus-daemon left
// running per start, and Secret Service calls that wait out a 120 s
// activation timeout. Assent never lets that happen: the keyring boundary
// (vault) checks Available first, and main calls PreventAutolaunch before
// the window opens (Fyne asks the desktop portal for the colour scheme over
// the session bus).
package sessionbus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrNoSessionBus: there is no D-Bus session bus (a bare X session, SSH with
// X forwarding, some window managers). Nothing was started to make one.
var ErrNoSessionBus = errors.New("no desktop session bus is running, so the system keyring cannot be reached")

// noBus is the address PreventAutolaunch sets: a socket that cannot exist,
// so D-Bus clients fail at once instead of launching a bus.
const noBus = "unix:path=/nonexistent/assent-no-session-bus"

// Available reports whether a session bus can be reached without starting
// one: nil if DBUS_SESSION_BUS_ADDRESS names a bus (a unix socket that
// exists, or another transport), or the user's runtime directory holds the
// bus socket where the D-Bus library looks; otherwise ErrNoSessionBus. It
// never starts a process.
func Available() error {
	if addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); addr != "" && addr != "autolaunch:" {
		for _, a := range strings.Split(addr, ";") {
			if p, ok := strings.CutPrefix(a, "unix:path="); ok {
				if i := strings.IndexByte(p, ','); i >= 0 {
					p = p[:i]
				}
				if _, err := os.Stat(p); err != nil {
					continue
				}
			} else if a == "" || strings.HasPrefix(a, "autolaunch:") || strings.HasPrefix(a, "launchd:") {
				continue
			}
			return nil
		}
		return ErrNoSessionBus
	}
	// Where the D-Bus library looks when the variable is not set.
	rt := fmt.Sprintf("/run/user/%d", os.Getuid())
	if fi, err := os.Stat(filepath.Join(rt, "bus")); err == nil && fi.Mode()&os.ModeSocket != 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(rt, "dbus-session")); err == nil {
		return nil
	}
	return ErrNoSessionBus
}

// PreventAutolaunch makes every D-Bus client of this process fail at once
// when there is no session bus, instead of autolaunching one: it points
// DBUS_SESSION_BUS_ADDRESS at a socket that cannot exist. With a bus it
// changes nothing. It reports whether a bus exists.
func PreventAutolaunch() bool {
	if Available() == nil {
		return true
	}
	os.Setenv("DBUS_SESSION_BUS_ADDRESS", noBus)
	return false
}
