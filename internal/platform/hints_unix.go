//go:build !windows && !darwin

package platform

// KeyringFix says, in plain words, how to get a working OS keyring here.
func KeyringFix() string {
	return "Install and unlock a Secret Service (GNOME Keyring or KeePassXC) in your desktop session"
}

// SoundFix says how to get a working sound system here.
func SoundFix() string {
	return "Start PulseAudio or PipeWire (on most desktops, log out and in again)"
}

// NoInputFix says what to do when no microphone is found.
func NoInputFix() string {
	return "connect a microphone or start a sound server (PulseAudio/PipeWire)"
}
