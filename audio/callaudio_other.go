//go:build !linux && !windows

package audio

import (
	"context"
	"os/exec"
)

// Planned (docs/platforms.md): macOS through Core Audio process taps
// (Windows: callaudio_windows.go). Until then a recording that asks for the
// call's audio is refused in plain words instead of silently recording one
// side.

// CallAudioSupported reports whether this build can record what the
// computer plays.
const CallAudioSupported = false

func resolveFollowed(ctx context.Context, k followKind) (string, error) {
	if k == followOutput {
		return "", ErrCallAudioUnsupported
	}
	return "", ErrNoSoundServer // the microphone falls back to PortAudio's default input
}

// dieWithParent: only Linux has a parent-death signal; elsewhere the
// context cancel ends the helper.
func dieWithParent(*exec.Cmd) {}
