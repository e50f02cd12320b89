package audio

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gordonklaus/portaudio"
)

// extInput is a capture input that PortAudio does not provide: on Windows
// the WASAPI loopback of the default output (package audio/wasapi), which
// PortAudio 19.6 cannot open. It delivers mono FrameSize buffers at 48 kHz
// and keeps step with the microphone by itself (silence where nothing
// played), so paSource reads it in lock-step like a PortAudio stream.
type extInput interface {
	Start() error
	Read(buf []float32) error // exactly FrameSize samples
	Close() error
}

// extPaInput wraps an extInput as one of paSource's inputs.
func extPaInput(ext extInput, role string) *paInput {
	return &paInput{ext: ext, buf: make([]float32, FrameSize), name: role, index: -1}
}

// start, read, abort and close run an input, whether a PortAudio stream or
// an extInput.
func (in *paInput) start() error {
	if in.ext != nil {
		return in.ext.Start()
	}
	return in.stream.Start()
}

// read fills in.buf. A PortAudio overflow (audio lost before this buffer)
// is counted and the buffer kept; any other failure says what to check.
func (in *paInput) read() error {
	var err error
	if in.ext != nil {
		err = in.ext.Read(in.buf)
	} else {
		err = in.stream.Read()
	}
	if errors.Is(err, portaudio.InputOverflowed) {
		in.overflows.Add(1)
		return nil
	}
	if err != nil {
		return fmt.Errorf("audio: capturing the %s failed (%v) — was the device unplugged or the sound server stopped?", in.name, err)
	}
	return nil
}

// available is the input's backlog in frames, for the drift compensation
// (drift.go); an extInput keeps step by itself and reports none.
func (in *paInput) available() (int, bool) {
	if in.ext != nil {
		return 0, false
	}
	n, err := in.stream.AvailableToRead()
	return n, err == nil
}

func (in *paInput) abort() {
	if in.ext == nil {
		_ = in.stream.Abort()
	}
}

func (in *paInput) close() error {
	if in.ext != nil {
		return in.ext.Close()
	}
	return in.stream.Close()
}

func closeExt(ext extInput) {
	if ext != nil {
		_ = ext.Close()
	}
}

// CallAudioError says that this system could record what the computer
// plays but cannot now (Windows refused the loopback capture: no output
// device, the audio service stopped, or a system without loopback such as
// Wine), and what to do. It matches ErrCallAudioUnsupported with errors.Is,
// so every caller that handles that adds its own next step.
type CallAudioError struct {
	Why error // the system's reason
}

func (e *CallAudioError) Error() string {
	why := strings.TrimPrefix(e.Why.Error(), "wasapi: ")
	return "audio: the other side of the call cannot be recorded: Windows cannot capture what this computer plays (" + why + "). " +
		"Check that speakers or a headset are connected and enabled in the Windows Sound settings, " +
		"or choose \"(none)\" as the call audio to record only your microphone, knowing that the other side will be missing"
}

func (e *CallAudioError) Unwrap() error { return e.Why }

// Is makes errors.Is(err, ErrCallAudioUnsupported) hold.
func (e *CallAudioError) Is(target error) bool { return target == ErrCallAudioUnsupported }
