//go:build windows

package platform

// KeyringFix says, in plain words, how to get a working OS keyring here.
func KeyringFix() string {
	return "Sign in to Windows with your own account (Windows Credential Manager keeps Assent's key; it is not available to guest or service accounts) and check that Credential Manager opens from the Control Panel"
}

// SoundFix says how to get a working sound system here.
func SoundFix() string {
	return "Check that a microphone is connected and turned on in Settings › System › Sound › Input, and that Windows lets apps use it (Settings › Privacy › Microphone)"
}

// NoInputFix says what to do when no microphone is found.
func NoInputFix() string {
	return "connect a microphone and turn it on in Settings › System › Sound › Input"
}
