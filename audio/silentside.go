package audio

import "sync/atomic"

// The silent-side rule, in one place for the app and the command line: in
// a stereo recording (left = microphone, right = the call) one channel has
// stayed silent for SilentSideAfter while the other carried speech. Levels
// are measured before the gate, so the warning can come while waiting for
// consent too; it clears as soon as the silent side is heard.

// SilentSide says which side of a call is missing.
type SilentSide int

const (
	BothSidesHeard SilentSide = iota // nothing to say
	MicSilent                        // the rep's microphone is silent
	CallSilent                       // the other side of the call is silent
)

func (s SilentSide) String() string {
	switch s {
	case MicSilent:
		return "MicSilent"
	case CallSilent:
		return "CallSilent"
	}
	return "BothSidesHeard"
}

// Message is the plain-language warning shown by the app and printed by
// the CLI ("" when both sides are heard).
func (s SilentSide) Message() string {
	switch s {
	case CallSilent:
		return "The other side of the call is silent — is the call playing through this computer?"
	case MicSilent:
		return "Your microphone is silent — is it muted, or is another microphone selected?"
	}
	return ""
}

const (
	// SilentSideAfter is how long (in buffers of 20 ms) a side must stay
	// silent: 20 s.
	silentSideBuffers = 20 * SampleRate / FrameSize
	// The other side must have carried speech in at least this many of
	// those buffers (2 s of voice).
	speechBuffers = 2 * SampleRate / FrameSize
	// A buffer is silent below quietDB RMS and voiced above speechDB.
	quietDB  = -55.0
	speechDB = -40.0
)

// silentSide tracks the rule per buffer (capture goroutine only) and
// publishes the verdict atomically.
type silentSide struct {
	quiet   [2]int       // consecutive quiet buffers per channel
	voiced  [2][]bool    // ring: was the buffer voiced, last silentSideBuffers
	nvoiced [2]int       // voiced buffers in the ring
	pos     int          // ring position
	verdict atomic.Int32 // SilentSide
}

func (s *silentSide) add(rms [2]float64) {
	for c := 0; c < 2; c++ {
		if s.voiced[c] == nil {
			s.voiced[c] = make([]bool, silentSideBuffers)
		}
		if rms[c] < quietDB {
			s.quiet[c]++
		} else {
			s.quiet[c] = 0
		}
		v := rms[c] > speechDB
		if s.voiced[c][s.pos] {
			s.nvoiced[c]--
		}
		s.voiced[c][s.pos] = v
		if v {
			s.nvoiced[c]++
		}
	}
	s.pos = (s.pos + 1) % silentSideBuffers
	verdict := BothSidesHeard
	switch {
	case s.quiet[1] >= silentSideBuffers && s.nvoiced[0] >= speechBuffers:
		verdict = CallSilent
	case s.quiet[0] >= silentSideBuffers && s.nvoiced[1] >= speechBuffers:
		verdict = MicSilent
	}
	s.verdict.Store(int32(verdict))
}

// SilentSide applies the silent-side rule to the levels measured so far
// (stereo only; a mono recording always answers BothSidesHeard).
func (m *Meters) SilentSide() SilentSide {
	if m.side == nil {
		return BothSidesHeard
	}
	return SilentSide(m.side.verdict.Load())
}
