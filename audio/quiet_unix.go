//go:build unix

package audio

import (
	"os"

	"golang.org/x/sys/unix"
)

// withQuietStderr runs f with file descriptor 2 pointed at /dev/null, so
// the ALSA/JACK probing noise PortAudio's C code prints never reaches users.
// Go's own stderr writes during f are lost too; f must be short.
//
// ASSENT_AUDIO_STDERR=1 leaves stderr alone (for diagnosing device problems).
func withQuietStderr(f func()) {
	if os.Getenv("ASSENT_AUDIO_STDERR") == "1" {
		f()
		return
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		f()
		return
	}
	defer null.Close()
	saved, err := unix.Dup(2)
	if err != nil {
		f()
		return
	}
	defer unix.Close(saved)
	if err := unix.Dup2(int(null.Fd()), 2); err != nil {
		f()
		return
	}
	defer unix.Dup2(saved, 2)
	f()
}
