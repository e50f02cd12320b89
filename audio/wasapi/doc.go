// Package wasapi captures what Windows plays on the default output device —
// the far side of a call — by WASAPI loopback, as 48 kHz mono float32 in
// 960-frame buffers, the shape of the recording pipeline's "call audio"
// input (the right channel; docs/platforms.md, "Call audio").
//
// [Loopback] has the method set of audio.Source (Channels, Start, Read,
// Close) without importing package audio, so this package needs no cgo and
// builds everywhere; off Windows [Open] returns [ErrUnsupported].
//
// Windows delivers no loopback packets while nothing plays, and none while
// the device is being reopened, so the capture goroutine pads with silence
// up to the wall clock (less padAfter, 60 ms): the call channel holds one
// sample per sample time and keeps step with the microphone, the clock of
// a recording. Start makes "now" the first sample; the first Read keeps
// only the newest buffer, since the microphone's first buffer can come a
// second or two after Start.
//
// The default output is followed: it is asked again every pollEvery
// (500 ms), and when another device became the default (a headset plugged
// in), or the captured one failed (unplugged), loopback is reopened on the
// current default. If a new default cannot be opened, the old capture goes
// on; if none can, the call channel is silence until one can.
//
// Status: Open, the following and the format handling run on Windows; the
// following and padding are tested with fake endpoints on every system
// (follow_test.go). Under Wine 8 (make windows-smoke) loopback is refused
// (IAudioClient::GetService(IAudioCaptureClient) answers
// AUDCLNT_E_WRONG_ENDPOINT_TYPE with either of Wine's sound drivers), so CI
// exercises the COM path up to that refusal and the plain error; a real
// Windows machine is needed to hear it capture.
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
