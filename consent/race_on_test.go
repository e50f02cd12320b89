//go:build race

package consent

// The race detector slows the property test ~10x; it still runs a thousand
// sessions, and the concurrency tests run in full.
const raceEnabled = true
