package app

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// ErrNoDisplay means there is no graphical display to open the window on.
var ErrNoDisplay = errors.New("there is no display to open the Assent window on")

// CheckDisplay reports, without starting anything, whether the window can
// be opened: on Linux and the BSDs an X server must answer at $DISPLAY
// (this build draws through X11; on Wayland desktops XWayland provides it).
// It returns an error wrapping ErrNoDisplay that says what was looked at.
// On macOS and Windows the desktop is always there.
func CheckDisplay() error {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return nil
	}
	d := os.Getenv("DISPLAY")
	if d == "" {
		return fmt.Errorf("%w: DISPLAY is not set (no desktop session, or an SSH login without X forwarding)", ErrNoDisplay)
	}
	network, addr, ok := xAddr(d)
	if !ok {
		return fmt.Errorf("%w: DISPLAY=%q is not a display name like :0", ErrNoDisplay, d)
	}
	c, err := net.DialTimeout(network, addr, 2*time.Second)
	if err != nil {
		return fmt.Errorf("%w: no X server answers at DISPLAY=%s", ErrNoDisplay, d)
	}
	c.Close()
	return nil
}

// xAddr maps an X display name ("[host]:N[.S]", "unix:N", "/path/to/socket:N"
// as XQuartz writes it) to where its server listens.
func xAddr(d string) (network, addr string, ok bool) {
	i := strings.LastIndexByte(d, ':')
	if i < 0 {
		return "", "", false
	}
	host, num := d[:i], d[i+1:]
	if j := strings.IndexByte(num, '.'); j >= 0 {
		num = num[:j]
	}
	n := 0
	if _, err := fmt.Sscan(num, &n); err != nil || n < 0 || fmt.Sprint(n) != num {
		return "", "", false
	}
	switch {
	case strings.HasPrefix(host, "/"):
		return "unix", d, true
	case host == "" || host == "unix":
		return "unix", filepath.Join("/tmp/.X11-unix", fmt.Sprintf("X%d", n)), true
	}
	if n > 65535-6000 {
		return "", "", false
	}
	addr = net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), fmt.Sprint(6000+n))
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", "", false // a host name no resolver could take, like "0["
	}
	return "tcp", addr, true
}
