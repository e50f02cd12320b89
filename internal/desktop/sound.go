package desktop

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

// ErrNoSoundServer: no PulseAudio or PipeWire server answers.
var ErrNoSoundServer = errors.New("no sound server (PulseAudio or PipeWire) is running")

// SoundServer reports whether a sound server answers: on Linux and the BSDs
// it connects to PulseAudio's socket ($PULSE_SERVER, else
// $XDG_RUNTIME_DIR/pulse/native; PipeWire serves the same socket through
// pipewire-pulse) and hangs up at once. Audio devices listed without a
// server (raw ALSA) do not make "Sound server: ready". On other systems the
// operating system's audio is always there.
func SoundServer() error {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return nil
	}
	for _, addr := range soundAddrs() {
		network, a := "unix", addr
		if p, ok := strings.CutPrefix(addr, "unix:"); ok {
			a = p
		} else if p, ok := strings.CutPrefix(addr, "tcp:"); ok {
			network, a = "tcp", p
			if !strings.Contains(a, ":") {
				a += ":4713"
			}
		} else if !strings.HasPrefix(addr, "/") {
			continue
		}
		c, err := net.DialTimeout(network, a, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
	}
	return ErrNoSoundServer
}

func soundAddrs() []string {
	if s := os.Getenv("PULSE_SERVER"); s != "" {
		return parsePulseServer(s)
	}
	var out []string
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		out = append(out, filepath.Join(rt, "pulse", "native"))
	}
	return append(out, fmt.Sprintf("/run/user/%d/pulse/native", os.Getuid()))
}

// parsePulseServer splits $PULSE_SERVER: addresses separated by spaces,
// tried in order, each maybe prefixed by "{machine-id}" (dropped).
func parsePulseServer(s string) []string {
	var out []string
	for _, a := range strings.Fields(s) {
		if strings.HasPrefix(a, "{") {
			if i := strings.IndexByte(a, '}'); i >= 0 {
				a = a[i+1:]
			}
		}
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}
