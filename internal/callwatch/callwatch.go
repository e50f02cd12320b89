// Package callwatch notices when a call application starts using the
// microphone, so the rep is reminded to ask everyone's consent.
//
// It asks the sound server (PulseAudio / PipeWire) which applications hold
// capture streams, by their application and process names, whenever the
// server announces a new or removed capture stream. It never captures,
// never starts a recording and never stores what it saw: it only calls
// Notify once each time a known call application starts capturing (again
// after all of its streams ended). Assent's own capture streams are ignored.
package callwatch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/assent-app/assent/audio"
)

// Notice is what the user is told.
type Notice struct {
	App     string // human application name, e.g. "Zoom"
	Title   string // a title for New call, e.g. "Zoom call"
	Message string // "Zoom is using your microphone — record this call with everyone's consent?"
}

// Identify says whether a capture stream belongs to a known call
// application and which (audio.CallAppName: the same rule that finds the
// call's sound when only the call is recorded).
func Identify(st audio.CaptureStream) (name string, ok bool) {
	if st.Tag != "" {
		return "", false // Assent's own capture
	}
	return audio.CallAppName(st.App, st.Binary)
}

// NoticeFor is the notice for an application.
func NoticeFor(app string) Notice {
	return Notice{App: app, Title: app + " call",
		Message: app + " is using your microphone — record this call with everyone's consent?"}
}

// Watcher watches the sound server for call applications.
type Watcher struct {
	// Notify is called once each time a known call application starts
	// capturing (from the watcher's goroutine).
	Notify func(Notice)
	// Enabled, if set, is asked before each notification (the user's
	// setting; switching it off mid-call silences the watcher at once).
	Enabled func() bool
	// Ready, if not nil, is closed once the watch runs (after the first
	// look at the applications capturing already, which are not announced).
	Ready chan struct{}

	active map[string]bool // applications capturing now
}

// ErrUnavailable says the sound server cannot be watched (no PulseAudio /
// PipeWire, or pactl missing).
var ErrUnavailable = errors.New("call applications cannot be noticed: the sound server cannot be asked which applications use the microphone")

// Run watches until ctx is done. It returns an error if the sound server
// cannot be watched or the watch ends by itself (server stopped).
func (w *Watcher) Run(ctx context.Context) error {
	events, err := audio.WatchSoundServer(ctx)
	if err != nil {
		return fmt.Errorf("%w (%v)", ErrUnavailable, err)
	}
	w.active = map[string]bool{}
	w.scan(ctx, true) // apps already on a call when Assent starts are not announced
	if w.Ready != nil {
		close(w.Ready)
	}
	for ev := range events {
		if ev.Failed != nil {
			return fmt.Errorf("%w (%v)", ErrUnavailable, ev.Failed)
		}
		if ev.Facet != "source-output" || ev.Kind == "change" {
			continue
		}
		w.scan(ctx, false)
	}
	return ctx.Err()
}

// scan compares the applications capturing now with the last scan.
func (w *Watcher) scan(ctx context.Context, quiet bool) {
	qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	streams, err := audio.CaptureStreams(qctx)
	if err != nil {
		return // the next event scans again
	}
	now := map[string]bool{}
	self := os.Getpid()
	for _, st := range streams {
		if st.PID == self {
			continue
		}
		if name, ok := Identify(st); ok {
			now[name] = true
		}
	}
	for name := range now {
		if w.active[name] || quiet {
			continue
		}
		if w.Enabled != nil && !w.Enabled() {
			continue
		}
		if w.Notify != nil {
			w.Notify(NoticeFor(name))
		}
	}
	w.active = now
}
