//go:build windows

package audio

import (
	"context"
	"os/exec"

	"github.com/assent-app/assent/audio/wasapi"
)

// On Windows the call's audio is what the default output plays, captured by
// WASAPI loopback (package audio/wasapi) and followed to a new default
// output (a headset plugged in) by the capture itself. PortAudio 19.6 has
// no loopback, so it is an extInput beside the PortAudio microphone. See
// docs/platforms.md.

// CallAudioSupported reports whether this build can record what the
// computer plays.
const CallAudioSupported = true

// callOutputByLoopback: CallOutput is captured by openCallOutput.
const callOutputByLoopback = true

// openCallOutput starts the loopback capture of the default output. When
// Windows refuses it the error is a *CallAudioError: the recording is
// refused in plain words instead of recording one side.
func openCallOutput() (extInput, error) {
	l, err := wasapi.Open()
	if err != nil {
		return nil, &CallAudioError{Why: err}
	}
	return l, nil
}

// loopbackCallChoices lists what this computer plays, named after the
// default output device, and "(none)". The loopback is opened and closed
// once to know that it works: if it does not, only "(none)" is offered,
// with the reason (a *CallAudioError), as on a system without call audio.
func loopbackCallChoices(none Choice) ([]Choice, error) {
	l, err := wasapi.Open()
	if err != nil {
		return []Choice{none}, &CallAudioError{Why: err}
	}
	_ = l.Close()
	def := Choice{ID: "", Name: "What this computer plays", Default: true}
	if name := wasapi.DefaultOutputName(); name != "" {
		def.Name = "What this computer plays (" + name + " — call audio)"
	}
	return []Choice{def, none}, nil
}

// resolveFollowed: Windows has no sound server to ask. The microphone is
// PortAudio's default input (Windows' default recording device through
// MME); what the computer plays never comes here (openCallOutput).
func resolveFollowed(ctx context.Context, k followKind) (string, error) {
	if k == followOutput {
		return "", ErrCallAudioUnsupported
	}
	return "", ErrNoSoundServer
}

// dieWithParent: Windows has no parent-death signal; the context cancel
// ends a helper (none is started on Windows).
func dieWithParent(*exec.Cmd) {}
