package app

import (
	"errors"
	"net"
	"strings"
	"testing"
)

func TestXAddr(t *testing.T) {
	cases := []struct{ d, network, addr string }{
		{":0", "unix", "/tmp/.X11-unix/X0"},
		{":99.0", "unix", "/tmp/.X11-unix/X99"},
		{"unix:1", "unix", "/tmp/.X11-unix/X1"},
		{"localhost:10.0", "tcp", "localhost:6010"},
		{"[::1]:2", "tcp", "[::1]:6002"},
		{"/private/tmp/com.apple.launchd.x/org.xquartz:0", "unix", "/private/tmp/com.apple.launchd.x/org.xquartz:0"},
		{"nodisplay", "", ""},
		{":x", "", ""},
		{":-1", "", ""},
		{":01", "", ""},
	}
	for _, c := range cases {
		n, a, ok := xAddr(c.d)
		if ok != (c.network != "") || n != c.network || a != c.addr {
			t.Errorf("xAddr(%q) = %q %q %v, want %q %q", c.d, n, a, ok, c.network, c.addr)
		}
	}
}

func TestCheckDisplaySaysWhy(t *testing.T) {
	for _, d := range []string{"", "not-a-display", ":987"} {
		t.Setenv("DISPLAY", d)
		err := CheckDisplay()
		if !errors.Is(err, ErrNoDisplay) || !strings.Contains(err.Error(), "there is no display to open the Assent window on") {
			t.Errorf("DISPLAY=%q: %v", d, err)
		}
	}
}

// DISPLAY is outside input: any value maps to a dialable address or none,
// without a panic.
func FuzzXAddr(f *testing.F) {
	for _, s := range []string{":0", "host:1.0", "[::1]:3", "unix:2", "/a/b:0", "", ":", "a:b:c", ":99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, d string) {
		network, addr, ok := xAddr(d)
		if !ok {
			return
		}
		switch network {
		case "unix":
			if addr == "" {
				t.Fatalf("%q: empty socket path", d)
			}
		case "tcp":
			if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
				t.Fatalf("%q: bad tcp address %q: %v", d, addr, err)
			}
		default:
			t.Fatalf("%q: network %q", d, network)
		}
	})
}
