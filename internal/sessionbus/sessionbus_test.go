package sessionbus

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestAvailable(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		addr string
		ok   bool
	}{
		{"unix:path=" + dir + "/nope", false},
		{"autolaunch:", false},
		{"autolaunch:scope=x", false},
		{";", false},
		{"unix:path=" + dir, true},
		{"unix:path=" + dir + ",guid=abc", true},
		{"unix:path=" + dir + "/nope;unix:abstract=/tmp/dbus-x", true},
		{"tcp:host=127.0.0.1,port=1", true}, // another transport: the library dials it, it never launches
	}
	for _, c := range cases {
		t.Setenv("DBUS_SESSION_BUS_ADDRESS", c.addr)
		err := Available()
		if (err == nil) != c.ok {
			t.Errorf("Available with %q: %v, want ok=%v", c.addr, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrNoSessionBus) {
			t.Errorf("%q: %v is not ErrNoSessionBus", c.addr, err)
		}
	}
}

// Without a bus, PreventAutolaunch points D-Bus clients at a socket that
// cannot exist (so they fail at once); with one it changes nothing.
func TestPreventAutolaunch(t *testing.T) {
	if _, err := os.Stat(filepath.Join("/run/user", strconv.Itoa(os.Getuid()), "bus")); err == nil {
		t.Skip("this user has a systemd session bus socket")
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	if PreventAutolaunch() {
		t.Fatal("reported a bus where there is none")
	}
	if got := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); got != noBus {
		t.Fatalf("DBUS_SESSION_BUS_ADDRESS = %q", got)
	}
	if Available() == nil {
		t.Fatal("the no-bus address counts as a bus")
	}
	dir := t.TempDir()
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+dir)
	if !PreventAutolaunch() || os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "unix:path="+dir {
		t.Fatal("changed a working address")
	}
}

// The address is outside input (the environment): any value is answered
// without a panic, and an autolaunch address is never taken for a bus.
func FuzzAvailable(f *testing.F) {
	for _, s := range []string{"", "autolaunch:", "unix:path=/tmp", "unix:path=/x,guid=1;tcp:host=a", ";;", "unix:path=", "launchd:env=X"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		if strings.ContainsRune(addr, 0) {
			return
		}
		t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
		err := Available()
		if err == nil && addr == "autolaunch:" {
			t.Fatal("autolaunch: taken for a bus")
		}
		if err != nil && !errors.Is(err, ErrNoSessionBus) {
			t.Fatalf("%q: %v", addr, err)
		}
	})
}
