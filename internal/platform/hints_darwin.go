//go:build darwin

package platform

// KeyringFix says, in plain words, how to get a working OS keyring here.
func KeyringFix() string {
	return "Unlock your login keychain (Keychain Access) and allow Assent to use it when macOS asks"
}

// SoundFix says how to get a working sound system here.
func SoundFix() string {
	return "Connect a microphone and allow Assent to use it in System Settings › Privacy & Security › Microphone"
}

// NoInputFix says what to do when no microphone is found.
func NoInputFix() string {
	return "connect a microphone and allow Assent to use it in System Settings › Privacy & Security › Microphone"
}
