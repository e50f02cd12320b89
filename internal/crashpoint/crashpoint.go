// Package crashpoint names every step at which Assent changes the disk, so
// that a test can make the real binary die at exactly that step.
//
// Production code calls [Hit] with a constant name right after (or, where
// the name says so, right before) a durable step. Nothing happens unless the
// environment variable ASSENT_CRASH_AT names that point:
//
//	ASSENT_CRASH_AT=vault.segment.rename      die at the first hit
//	ASSENT_CRASH_AT=vault.segment.rename:3    die at the third hit
//
// Dying means SIGKILL to the process itself (on Windows, an immediate exit):
// no deferred function runs, no buffer is flushed, no lock is released other
// than by the kernel — the same as `kill -9` or a power cut after the step.
//
// The variable is read once, at the first Hit. The package must never do
// anything else: no logging, no files, no network. docs/vault.md lists every
// point and what the next start does after a crash there.
package crashpoint

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// EnvVar is the environment variable that arms a crash point.
const EnvVar = "ASSENT_CRASH_AT"

var (
	once   sync.Once
	armed  string // the point's name; "" when disarmed
	target int64  // the hit that kills (1-based)
	hits   atomic.Int64
)

// Parse splits an ASSENT_CRASH_AT value into the point's name and the hit
// number (default 1). ok is false for an empty or malformed value.
func Parse(v string) (name string, n int64, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", 0, false
	}
	name, count, has := strings.Cut(v, ":")
	n = 1
	if has {
		var err error
		n, err = strconv.ParseInt(count, 10, 64)
		if err != nil || n < 1 {
			return "", 0, false
		}
	}
	if !Known(name) {
		return "", 0, false
	}
	return name, n, true
}

func load() {
	if name, n, ok := Parse(os.Getenv(EnvVar)); ok {
		armed, target = name, n
	}
}

// Hit marks that the step named name has just happened. If ASSENT_CRASH_AT
// names it (and this is the hit it counts to), the process dies at once.
func Hit(name string) {
	once.Do(load)
	if armed == "" || name != armed {
		return
	}
	if hits.Add(1) == target {
		die()
	}
}

// Armed reports whether a crash point is armed in this process.
func Armed() bool {
	once.Do(load)
	return armed != ""
}
