// Package wasapi captures what Windows plays on the default output device —
// the far side of a call — by WASAPI loopback, as 48 kHz mono float32 in
// 960-frame buffers, the shape of the recording pipeline's "call audio"
// input (the right channel; docs/platforms.md, "Call audio").
//
// [Loopback] has the method set of audio.Source (Channels, Start, Read,
// Close) without importing package audio, so this package needs no cgo and
// builds everywhere; off Windows [Open] returns [ErrUnsupported].
//
// Windows delivers no loopback packets while nothing plays, so Read does not
// wait for a full buffer forever: after two buffer periods it pads with
// silence. That keeps the call channel in step with the microphone, which is
// the clock of a recording.
//
// Status: Open, Read and the format handling are written and compile for
// Windows; under Wine 8 (make windows-smoke) loopback is refused
// (AUDCLNT_E_WRONG_ENDPOINT_TYPE), so only that path is exercised by CI.
// Wiring it into audio.OpenCapture as the default call input on Windows is
// left to the call-audio work.
//
// The package never logs and never stores audio; it only hands samples to
// its caller.
package wasapi

import "errors"

// SampleRate and FrameSize match package audio.
const (
	SampleRate = 48000
	FrameSize  = 960
)

var errClosed = errors.New("wasapi: the capture of the default output is closed")

// ErrUnsupported is returned by Open where WASAPI does not exist.
var ErrUnsupported = errors.New("capturing what this computer plays (WASAPI loopback) works only on Windows; on Linux choose the monitor of your output as the call input")
