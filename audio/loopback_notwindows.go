//go:build !windows

package audio

// Off Windows what the computer plays is captured through the sound server
// (callaudio_linux.go) or not at all (callaudio_other.go), never by an
// extInput.
const callOutputByLoopback = false

func openCallOutput() (extInput, error) { return nil, ErrCallAudioUnsupported }

func loopbackCallChoices(none Choice) ([]Choice, error) {
	return []Choice{none}, ErrCallAudioUnsupported
}
