//go:build linux

package audio

import (
	"context"
	"os/exec"
	"syscall"
)

// On Linux the call's audio is the monitor of the default output of
// PulseAudio or PipeWire (pipewire-pulse), captured through PortAudio's
// ALSA "pulse" device; see docs/platforms.md for the other systems.

// CallAudioSupported reports whether this build can record what the
// computer plays.
const CallAudioSupported = true

// resolveFollowed names the sound server source that a followed input
// captures now: the default input, or the monitor of the default output.
func resolveFollowed(ctx context.Context, k followKind) (string, error) {
	if k == followOutput {
		mon, _, err := DefaultCallMonitor(ctx)
		return mon, err
	}
	si, err := PulseInfo(ctx)
	if err != nil {
		return "", err
	}
	return si.DefaultSource, nil
}

// dieWithParent makes a helper process (pactl subscribe) end when Assent
// ends, however it ends (SIGTERM, a crash, kill -9), so no process is left
// behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
