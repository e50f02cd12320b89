package config

// Capture devices. Input and CallInput are device IDs as the settings
// screen and `assent devices` list them:
//
//   - Input "" — the sound server's default input (followed when it changes);
//   - CallInput "" — the call's audio is what this computer plays (the
//     monitor of the default output, followed): every recording is stereo,
//     left = the microphone, right = the call, with no setup;
//   - CallInput "none" — an explicit choice to record the microphone alone
//     (the app and CLI warn that the other side will not be recorded);
//   - CallInput "output" — what this computer plays, said explicitly;
//   - CallInput "app" — only the sound of the call application using the
//     microphone when the recording starts, "app:NAME" only that one's
//     (e.g. "app:Zoom"; audio/callonly.go);
//   - any other value — a device name, number or "pulse:SOURCE".

// CallNone is the CallInput that records the microphone only.
const CallNone = "none"

// CallOutput is what an empty CallInput means: what this computer plays.
// It equals audio.CallOutput (checked by a test in internal/desktop; this
// package does not import audio, which needs cgo).
const CallOutput = "output"

// CaptureInputs returns the microphone and call input to capture with
// these settings, in audio.CaptureConfig's terms ("" call = mono).
func (c Config) CaptureInputs() (mic, call string) {
	return c.Input, CallInputFor(c.CallInput)
}

// CallInputFor maps a CallInput setting (or flag) to audio's terms.
func CallInputFor(setting string) string {
	switch setting {
	case "":
		return CallOutput
	case CallNone:
		return ""
	}
	return setting
}
