// Package audio captures, gates, encodes, stores and plays back call audio.
//
// It owns: PortAudio capture at 48 kHz (a microphone and, optionally, the
// call's audio as the right channel of a stereo stream), live level meters,
// Opus encoding and decoding (libopus), a hand-written Ogg muxer and
// demuxer, playback through oto, and the chimes and periodic beep that tell
// everyone on a call that it is being recorded.
//
// The recording pipeline is
//
//	Source → Meters → Gate.Admit(960) → Opus encoder → Ogg pages → SegmentSink
//
// One captured buffer is 960 frames (20 ms at 48 kHz) and becomes exactly
// one Opus packet. The gate is asked about every buffer before anything is
// encoded; a buffer it refuses is dropped on the spot and never reaches the
// encoder, the muxer or the sink. Levels are measured before the gate, for
// display only, and are never stored.
//
// The Ogg stream is written as header pages (OpusHead, OpusTags) followed by
// data pages holding about one second of packets each. The pipeline calls
// SegmentSink.Seal at a page boundary at least every 4 s of audio, so the
// sink (the encrypted vault) can close each segment as a complete file. The
// pages of all segments, concatenated, are one valid Ogg Opus stream.
//
// What the package must never do: encode, buffer, write or send a sample the
// gate refused; write audio anywhere but to the SegmentSink it is given (no
// temporary files, no plaintext on disk); log audio or levels; or show
// PortAudio's ALSA/JACK start-up noise to users.
//
// When the gate closes (pause, withdrawal, a late joiner) the pipeline also
// seals, so nothing recorded before a pause waits unsealed through it.
//
// There is one oto context per process (oto allows only one); PlayChime,
// RunBeeper and Player share it. The formats are documented in docs/audio.md.
package audio

import "time"

// SampleRate is the only rate the package captures, encodes and plays: 48 kHz.
const SampleRate = 48000

// FrameSize is the number of frames (samples per channel) in one captured
// buffer and in one Opus packet: 20 ms at 48 kHz.
const FrameSize = 960

// Gate is the consent gate as seen by the pipeline; it is identical to
// consent.Gate (see docs/design.md). Admit is called once per captured buffer
// of `frames` frames BEFORE anything is encoded and returns true iff the
// buffer may be recorded.
type Gate interface {
	Admit(frames int) bool
}

// AgedGate is a Gate that also judges a buffer by when it was captured:
// AdmitAged admits it only if the gate was already open when its first
// sample was captured, age ago. consent.Session implements it.
type AgedGate interface {
	AdmitAged(frames int, age time.Duration) bool
}

// CaptureClock is implemented by a live Source: CaptureDelay is how long
// ago the last sample of the buffer just read was captured — what was still
// queued behind it in the inputs' buffers. The pipeline hands the age of each buffer to an AgedGate, so a
// buffer read after consent but captured before it is never recorded, however
// late a busy machine reads.
type CaptureClock interface {
	CaptureDelay() time.Duration
}

// SegmentSink receives the Ogg pages of a recording (docs/design.md).
// vault.SegmentWriter implements it.
type SegmentSink interface {
	WritePage(page []byte) error // one or more complete Ogg pages
	Seal() error                 // close the current segment atomically; next page starts a new one
	Close() error                // seal what is open and finish
}
