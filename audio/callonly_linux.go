//go:build linux

package audio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Recording only the call application's sound on PulseAudio and PipeWire
// (pipewire-pulse speaks the same protocol):
//
//   - a private null sink, assent_call_<pid>_<start>_<n> ("Assent - call
//     audio"), whose monitor is captured through PortAudio as the right
//     channel, like any other monitor;
//   - a module-loopback from that monitor to the output the rep uses, with a
//     small latency, so the rep still hears the call;
//   - every playback stream of the call application (CallAppName, the rule
//     internal/callwatch notices calls with) moved into the null sink, and
//     new ones as they appear; the loopback re-pointed when the default
//     output changes;
//   - at the end (Close, an error) the streams moved back to where they
//     played (or to the default output if they followed it) and both modules
//     unloaded. A process killed before that leaves its modules behind; the
//     next capture (or CleanupCallRouting at start) unloads those whose
//     owner is gone. Meanwhile the loopback keeps the call audible, and when
//     the null sink is unloaded the server moves its streams to the default
//     output (stream rescue; TestRealCallOnlyKilledRecordingCleanedUp).

// loopbackLatencyMs is the delay the loopback adds to what the rep hears.
// 20 ms is not noticed on a call; lower underruns on a loaded machine.
const loopbackLatencyMs = 20

type callRouter struct {
	app  string // human name: "Zoom"
	sink string // the null sink
	tag  string // assent.callonly property of the loopback's streams

	mu         sync.Mutex
	closed     bool
	sinkModule int
	loopModule int
	output     string          // the output the loopback plays to
	moved      map[int]movedTo // playback stream index → where it came from
	moves      atomic.Int64
}

type movedTo struct {
	sink      string
	onDefault bool // it was on the default output: it goes back to the default
}

var callSinkSeq atomic.Int64

// newCallRouter routes the call application's sound (app, or "" for the
// call application using the microphone now) into a private null sink.
func newCallRouter(ctx context.Context, app string) (*callRouter, error) {
	_ = CleanupCallRouting(ctx)
	si, err := PulseInfo(ctx)
	if err != nil {
		return nil, err
	}
	if app == "" {
		if app, err = callAppCapturing(ctx); err != nil {
			return nil, err
		}
	}
	start, err := processStart(os.Getpid())
	if err != nil {
		return nil, callOnlyErr(err.Error())
	}
	r := &callRouter{app: app, moved: map[int]movedTo{}, sinkModule: -1, loopModule: -1,
		sink: fmt.Sprintf("%s%d_%d_%d", callSinkPrefix, os.Getpid(), start, callSinkSeq.Add(1))}
	r.tag = strings.TrimPrefix(r.sink, callSinkPrefix)
	if r.sinkModule, err = loadModule(ctx, "module-null-sink", "sink_name="+r.sink,
		`sink_properties='device.description="Assent - call audio" assent.callonly=`+r.tag+`'`,
		"rate=48000", "channels=2"); err != nil {
		return nil, err
	}
	r.output = si.DefaultSink
	// A desktop that switches to every new output (module-switch-on-connect
	// without ignore_virtual, some PipeWire policies) has just made the
	// private sink the default and moved every stream into it: everything
	// the computer plays would be recorded. The rep's default is restored
	// here and strays are moved back by refresh.
	r.keepDefault(ctx)
	if r.loopModule, err = loadModule(ctx, "module-loopback", "source="+r.sink+".monitor", "sink="+r.output,
		"latency_msec="+strconv.Itoa(loopbackLatencyMs), "source_dont_move=true",
		`sink_input_properties='media.name="Assent - call audio" assent.callonly=`+r.tag+`'`,
		`source_output_properties='assent.callonly=`+r.tag+`'`); err != nil {
		r.close()
		return nil, err
	}
	if err := r.refresh(ctx); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func loadModule(ctx context.Context, name string, args ...string) (int, error) {
	out, err := pactlRaw(ctx, append([]string{"load-module", name}, args...)...)
	if err != nil {
		var pe *pactlError
		if !errors.As(err, &pe) {
			return -1, err
		}
		return -1, callOnlyErr(fmt.Sprintf("it refused to load %s: %s", name, pe.msg))
	}
	i, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return -1, callOnlyErr(fmt.Sprintf("%s loaded, but its number %q is not understood", name, out))
	}
	return i, nil
}

// refresh moves the call application's new playback streams into the null
// sink and points the loopback at the current default output.
func (r *callRouter) refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.keepDefault(ctx)
	si, err := PulseInfo(ctx)
	if err != nil {
		return err
	}
	sinks, err := PulseSinks(ctx)
	if err != nil {
		return err
	}
	b, err := pactl(ctx, "list", "sink-inputs")
	if err != nil {
		return err
	}
	streams, err := parsePlaybackStreams(b)
	if err != nil {
		return err
	}
	nameOf := map[int]string{}
	ours := -1
	for _, s := range sinks {
		nameOf[s.Index] = s.Name
		if s.Name == r.sink {
			ours = s.Index
		}
	}
	if ours < 0 {
		return callOnlyErr(fmt.Sprintf("Assent's private output %q disappeared", r.sink))
	}
	var errs []error
	for _, st := range streams {
		if st.Tag != "" {
			if st.Tag == r.tag && st.Sink == ours && r.output != "" {
				// The loopback must never play into its own source.
				if _, err := pactlRaw(ctx, "move-sink-input", strconv.Itoa(st.Index), r.output); err != nil {
					errs = append(errs, err)
				}
				continue
			}
			if st.Tag == r.tag && si.DefaultSink != r.output && si.DefaultSink != r.sink && si.DefaultSink != "" {
				// The rep's output changed (headset plugged in): the call
				// follows it.
				if _, err := pactlRaw(ctx, "move-sink-input", strconv.Itoa(st.Index), si.DefaultSink); err == nil {
					r.output = si.DefaultSink
				} else {
					errs = append(errs, err)
				}
			}
			continue
		}
		if st.PID == os.Getpid() {
			continue
		}
		if name, ok := CallAppName(st.App, st.Binary); !ok || name != r.app {
			if st.Sink == ours && r.output != "" {
				// Not the call's: moved in by the desktop's policy, it
				// goes back to the rep's output and is not recorded.
				if _, err := pactlRaw(ctx, "move-sink-input", strconv.Itoa(st.Index), r.output); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		if st.Sink == ours {
			continue
		}
		from := nameOf[st.Sink]
		if _, err := pactlRaw(ctx, "move-sink-input", strconv.Itoa(st.Index), r.sink); err != nil {
			errs = append(errs, err) // it may have just ended
			continue
		}
		r.moved[st.Index] = movedTo{sink: from, onDefault: from == si.DefaultSink || from == r.output}
		r.moves.Add(1)
	}
	return errors.Join(errs...)
}

// close moves the streams back and unloads the modules. It is safe to call
// more than once and never needs the caller's context (it must run even
// when that is cancelled).
func (r *callRouter) close() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 4*pactlTimeout)
	defer cancel()
	var errs []error
	if len(r.moved) > 0 {
		def := ""
		if si, err := PulseInfo(ctx); err == nil && si.DefaultSink != r.sink {
			def = si.DefaultSink
		}
		exists := map[string]bool{}
		if sinks, err := PulseSinks(ctx); err == nil {
			for _, s := range sinks {
				exists[s.Name] = true
			}
		}
		for idx, from := range r.moved {
			to := from.sink
			if from.onDefault || !exists[to] {
				to = def
			}
			if to == "" {
				continue // unloading the null sink rescues it to the default
			}
			// A stream that ended meanwhile fails here: nothing to move.
			_, _ = pactlRaw(ctx, "move-sink-input", strconv.Itoa(idx), to)
		}
	}
	for _, m := range []int{r.loopModule, r.sinkModule} {
		if m < 0 {
			continue
		}
		if _, err := pactlRaw(ctx, "unload-module", strconv.Itoa(m)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("audio: could not undo the call audio routing (%v) — it is undone at the next recording or start of Assent", err)
	}
	return nil
}

// CleanupCallRouting unloads the call-only routing (null sinks and
// loopbacks) left behind by Assent processes that ended without undoing it
// (killed, crashed). The server moves the streams that played into such a
// sink back to the default output. Routing of running Assent processes is
// left alone. Without a sound server there is nothing to clean.
func CleanupCallRouting(ctx context.Context) error {
	out, err := pactlRaw(ctx, "list", "short", "modules")
	if err != nil {
		return err
	}
	var errs []error
	mods := parseShortModules(out)
	// Loopbacks first: the null sink's removal would end them anyway.
	for _, pass := range []string{"module-loopback", "module-null-sink"} {
		for _, m := range mods {
			if m.Name != pass {
				continue
			}
			pid, start, ok := routingOwner(m.Arg)
			if !ok || processAlive(pid, start) {
				continue
			}
			if _, err := pactlRaw(ctx, "unload-module", strconv.Itoa(m.Index)); err != nil && pass == "module-null-sink" {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// processStart is a process's start time in clock ticks since boot
// (/proc/PID/stat field 22): with the pid it names one process, even after
// the pid is reused.
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, errors.New("unreadable /proc stat")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

func processAlive(pid int, start uint64) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	s, err := processStart(pid)
	if err != nil {
		// Another process namespace: we cannot tell, so leave it.
		return !errors.Is(err, os.ErrNotExist)
	}
	return s == start
}

func (r *callRouter) sinkName() string { return r.sink }

// keepDefault sets the rep's output back as the default if the private sink
// became the default; it reports whether it had to.
func (r *callRouter) keepDefault(ctx context.Context) bool {
	si, err := PulseInfo(ctx)
	if err != nil || si.DefaultSink != r.sink || r.output == "" || r.output == r.sink {
		return false
	}
	_, err = pactlRaw(ctx, "set-default-sink", r.output)
	return err == nil
}
