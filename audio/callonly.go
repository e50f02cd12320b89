package audio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Recording only the call application's sound (CallInput CallApp): see
// callonly_linux.go for how, and docs/design.md ("Only the call").

// CallApp, as CaptureConfig.CallInput, records only the sound of the call
// application that is using the microphone now (Zoom, Teams, a browser on
// a call, …) instead of everything the computer plays. "app:NAME" names the
// application ("app:Zoom", a name as CallAppName gives).
const CallApp = "app"

// ErrNoCallApp says no call application could be found to record.
var ErrNoCallApp = errors.New("audio: no call application (Zoom, Teams, Webex, a browser on a call, …) is using the microphone now, so Assent cannot tell whose sound to record — start the call first, or choose what this computer plays as the call audio")

// ErrCallOnlyUnsupported says the sound server cannot record one
// application's sound apart.
var ErrCallOnlyUnsupported = errors.New("audio: this sound server cannot record only the call application's sound")

// callOnlyErr says why only the call app's sound cannot be had, and what
// the rep can choose instead.
func callOnlyErr(why string) error {
	return fmt.Errorf("%w (%s) — choose what this computer plays as the call audio to record everything it plays", ErrCallOnlyUnsupported, why)
}

// IsCallAppInput reports whether a CallInput asks for the call
// application's sound only, and which application ("" = the one using the
// microphone now).
func IsCallAppInput(in string) (app string, ok bool) {
	if in == CallApp {
		return "", true
	}
	if name, ok := strings.CutPrefix(in, CallApp+":"); ok && strings.TrimSpace(name) != "" {
		return strings.TrimSpace(name), true
	}
	return "", false
}

// RecordedApp says whose sound a capture records as the call audio when it
// records only the call application ("Zoom"), else "".
func RecordedApp(src Source) string {
	if a, ok := src.(interface{ CallAppName() string }); ok {
		return a.CallAppName()
	}
	return ""
}

// PlaybackStream is one application's playback stream (a sink input).
type PlaybackStream struct {
	Index  int
	Sink   int    // index of the output it plays to
	App    string // application.name
	Binary string // application.process.binary
	PID    int
	Tag    string // assent.callonly: set on Assent's own loopback
}

type pulseSinkInputJSON struct {
	Index      int               `json:"index"`
	Sink       int               `json:"sink"`
	Properties map[string]string `json:"properties"`
}

func parsePlaybackStreams(b []byte) ([]PlaybackStream, error) {
	var raw []pulseSinkInputJSON
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("audio: the sound server's playback stream list is not understood (%v)", err)
	}
	out := make([]PlaybackStream, 0, len(raw))
	for _, r := range raw {
		p := r.Properties
		pid, _ := strconv.Atoi(p["application.process.id"])
		out = append(out, PlaybackStream{Index: r.Index, Sink: r.Sink, App: p["application.name"],
			Binary: p["application.process.binary"], PID: pid, Tag: p["assent.callonly"]})
	}
	return out, nil
}

// pulseModule is one line of `pactl list short modules` (pactl 16's JSON
// module list has no indexes).
type pulseModule struct {
	Index int
	Name  string
	Arg   string
}

func parseShortModules(b []byte) []pulseModule {
	var out []pulseModule
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 2 {
			continue
		}
		i, err := strconv.Atoi(strings.TrimSpace(f[0]))
		if err != nil || i < 0 {
			continue
		}
		m := pulseModule{Index: i, Name: f[1]}
		if len(f) > 2 {
			m.Arg = f[2]
		}
		out = append(out, m)
	}
	return out
}

// callSinkPrefix starts the name of every null sink Assent loads:
// assent_call_<pid>_<process start>_<n>.
const callSinkPrefix = "assent_call_"

// routingOwner finds the Assent process that loaded a module from its
// arguments (the null sink's name, or the loopback's source): its pid and
// start time (so a reused pid is not taken for the owner).
func routingOwner(arg string) (pid int, start uint64, ok bool) {
	i := strings.Index(arg, callSinkPrefix)
	if i < 0 {
		return 0, 0, false
	}
	rest := arg[i+len(callSinkPrefix):]
	if j := strings.IndexAny(rest, " .'\""); j >= 0 {
		rest = rest[:j]
	}
	f := strings.Split(rest, "_")
	if len(f) != 3 {
		return 0, 0, false
	}
	p, err1 := strconv.Atoi(f[0])
	s, err2 := strconv.ParseUint(f[1], 10, 64)
	_, err3 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil || err3 != nil || p <= 0 {
		return 0, 0, false
	}
	return p, s, true
}

// openCallRouter starts routing the call application's sound apart when
// the call input asks for it (nil otherwise).
func openCallRouter(ctx context.Context, callInput string) (*callRouter, error) {
	app, ok := IsCallAppInput(callInput)
	if !ok {
		if callInput != "" && CallAudioSupported {
			// Before a new recording: undo what a killed one left behind.
			_ = CleanupCallRouting(ctx)
		}
		return nil, nil
	}
	if !CallAudioSupported {
		return nil, callOnlyErr("not on this system")
	}
	return newCallRouter(ctx, app)
}

// CallAppName says whose sound is recorded as the call audio, when only
// the call application's is ("Zoom"), else "".
func (s *paSource) CallAppName() string {
	if s.router == nil {
		return ""
	}
	return s.router.app
}

// callAppCapturing names the call application that uses the microphone
// now.
func callAppCapturing(ctx context.Context) (string, error) {
	streams, err := CaptureStreams(ctx)
	if err != nil {
		return "", err
	}
	if app := pickCallApp(streams); app != "" {
		return app, nil
	}
	return "", ErrNoCallApp
}

// pickCallApp names the call application among these capture streams
// (other processes' only); an application that is not a browser wins over
// a browser (a tab on a call besides Zoom is rare; music in a browser
// besides a call is not). "" if none.
func pickCallApp(streams []CaptureStream) string {
	found := ""
	for _, st := range streams {
		if st.Tag != "" || st.PID == os.Getpid() {
			continue
		}
		name, ok := CallAppName(st.App, st.Binary)
		if !ok {
			continue
		}
		if found == "" || (isBrowser(found) && !isBrowser(name)) {
			found = name
		}
	}
	return found
}
