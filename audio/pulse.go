package audio

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The sound server (PulseAudio, or PipeWire's PulseAudio server) is asked
// through `pactl -f json` (pulseaudio-utils ≥ 16; PipeWire desktops ship it):
// which output and input are the defaults, their human names, which
// applications capture. Nothing here guesses device names.

// ErrNoSoundServer says the PulseAudio/PipeWire server cannot be asked.
var ErrNoSoundServer = errors.New("audio: cannot ask the sound server which devices to use — is PulseAudio or PipeWire (with pactl) running?")

// ServerInfo is what the sound server says about itself.
type ServerInfo struct {
	Name          string `json:"server_name"` // "pulseaudio", "PulseAudio (on PipeWire 1.0.5)"
	Version       string `json:"server_version"`
	DefaultSink   string `json:"default_sink_name"`
	DefaultSource string `json:"default_source_name"`
}

// PulseDevice is an output (sink) or input (source) of the sound server.
type PulseDevice struct {
	Index       int               `json:"index"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Monitor     string            `json:"monitor_source"` // sinks: the source that hears what it plays
	Properties  map[string]string `json:"properties"`
}

// IsMonitor reports whether a source only hears an output.
func (d PulseDevice) IsMonitor() bool {
	return d.Properties["device.class"] == "monitor" || strings.HasSuffix(d.Name, ".monitor")
}

// CaptureStream is one application's capture (record) stream.
type CaptureStream struct {
	Index  int    // stream index on the server
	App    string // application.name, e.g. "Zoom", "Firefox"
	Binary string // application.process.binary, e.g. "zoom", "firefox"
	Media  string // media.name, e.g. "Meet - abc-defg-hij" for a browser tab
	PID    int    // application.process.id (0 if unknown)
	Tag    string // assent.capture: set on Assent's own streams
}

type pulseStreamJSON struct {
	Index      int               `json:"index"`
	Properties map[string]string `json:"properties"`
}

// pactlTimeout bounds every question to the sound server.
const pactlTimeout = 3 * time.Second

func pactl(ctx context.Context, args ...string) ([]byte, error) {
	if len(args) > 0 && args[0] == "move-source-output" {
		return pactlRaw(ctx, args...) // no -f json: it prints nothing
	}
	return pactlRaw(ctx, append([]string{"-f", "json"}, args...)...)
}

// pactlRaw runs pactl with exactly these arguments (for commands whose
// plain answer is wanted: load-module prints the module's index, `list
// short modules` the indexes that pactl 16's JSON leaves out).
func pactlRaw(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, pactlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pactl", args...)
	dieWithParent(cmd) // an app stopped mid-question leaves no pactl behind
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		pe := &pactlError{msg: strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr.String()), "Failure:"))}
		if pe.msg == "" {
			pe.msg = err.Error()
		}
		return nil, fmt.Errorf("%w (pactl %s: %w)", ErrNoSoundServer, strings.Join(args, " "), pe)
	}
	return out, nil
}

// pactlError is what pactl said when it failed ("Module initialization
// failed", "No such entity").
type pactlError struct{ msg string }

func (e *pactlError) Error() string { return e.msg }

// PulseInfo asks the sound server for its name and default devices.
func PulseInfo(ctx context.Context) (ServerInfo, error) {
	b, err := pactl(ctx, "info")
	if err != nil {
		return ServerInfo{}, err
	}
	return parseServerInfo(b)
}

// PulseSources lists the sound server's inputs, monitors included.
func PulseSources(ctx context.Context) ([]PulseDevice, error) {
	b, err := pactl(ctx, "list", "sources")
	if err != nil {
		return nil, err
	}
	return parseDevices(b)
}

// PulseSinks lists the sound server's outputs.
func PulseSinks(ctx context.Context) ([]PulseDevice, error) {
	b, err := pactl(ctx, "list", "sinks")
	if err != nil {
		return nil, err
	}
	return parseDevices(b)
}

// CaptureStreams lists the applications capturing audio right now (the
// sound server's source outputs), without the server's own internal
// streams (monitors of filters, loopbacks).
func CaptureStreams(ctx context.Context) ([]CaptureStream, error) {
	b, err := pactl(ctx, "list", "source-outputs")
	if err != nil {
		return nil, err
	}
	return parseCaptureStreams(b)
}

func parseServerInfo(b []byte) (ServerInfo, error) {
	var si ServerInfo
	if err := json.Unmarshal(b, &si); err != nil {
		return ServerInfo{}, fmt.Errorf("audio: the sound server's answer is not understood (%v)", err)
	}
	if si.DefaultSink == "" && si.DefaultSource == "" {
		return si, errors.New("audio: the sound server has no default output or input")
	}
	return si, nil
}

func parseDevices(b []byte) ([]PulseDevice, error) {
	var ds []PulseDevice
	if err := json.Unmarshal(b, &ds); err != nil {
		return nil, fmt.Errorf("audio: the sound server's device list is not understood (%v)", err)
	}
	for i := range ds {
		if ds[i].Description == "" {
			ds[i].Description = ds[i].Properties["device.description"]
		}
		if ds[i].Description == "" {
			ds[i].Description = ds[i].Name
		}
	}
	return ds, nil
}

func parseCaptureStreams(b []byte) ([]CaptureStream, error) {
	var raw []pulseStreamJSON
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("audio: the sound server's stream list is not understood (%v)", err)
	}
	var out []CaptureStream
	for _, r := range raw {
		p := r.Properties
		if p["application.name"] == "" && p["application.process.binary"] == "" && p["assent.capture"] == "" {
			continue // a filter or loopback inside the server
		}
		pid, _ := strconv.Atoi(p["application.process.id"])
		out = append(out, CaptureStream{Index: r.Index, App: p["application.name"],
			Binary: p["application.process.binary"], Media: p["media.name"], PID: pid, Tag: p["assent.capture"]})
	}
	return out, nil
}

// SoundEvent is one change the sound server announced.
type SoundEvent struct {
	Kind   string // "new", "change", "remove"
	Facet  string // "server", "sink", "source", "source-output", "sink-input", "client", …
	Index  int64
	Failed error // set on the last event if the watch ended by itself
}

// parseSoundEvent reads one line of `pactl subscribe`:
// Event 'change' on server #4294967295
func parseSoundEvent(line string) (SoundEvent, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Event '")
	if !ok {
		return SoundEvent{}, false
	}
	kind, rest, ok := strings.Cut(rest, "' on ")
	if !ok || kind == "" {
		return SoundEvent{}, false
	}
	facet, idx, ok := strings.Cut(rest, " #")
	if !ok || facet == "" {
		return SoundEvent{}, false
	}
	n, err := strconv.ParseInt(idx, 10, 64)
	if err != nil {
		return SoundEvent{}, false
	}
	return SoundEvent{Kind: kind, Facet: facet, Index: n}, true
}

// WatchSoundServer delivers the sound server's change events until ctx is
// done (one `pactl subscribe` process; no polling). The channel is closed
// when the watch ends; if it ended by itself (server gone) the last event
// carries Failed.
func WatchSoundServer(ctx context.Context) (<-chan SoundEvent, error) {
	cmd := exec.CommandContext(ctx, "pactl", "subscribe")
	dieWithParent(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNoSoundServer, err)
	}
	ch := make(chan SoundEvent, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if ev, ok := parseSoundEvent(sc.Text()); ok {
				select {
				case ch <- ev:
				default: // a slow reader loses events, never blocks pactl; it re-reads state anyway
				}
			}
		}
		err := cmd.Wait()
		if ctx.Err() == nil {
			ch <- SoundEvent{Failed: fmt.Errorf("%w (pactl subscribe ended: %v)", ErrNoSoundServer, err)}
		}
	}()
	return ch, nil
}

// DefaultCallMonitor returns the monitor source of the current default
// output — what the computer plays — and that output's human name.
func DefaultCallMonitor(ctx context.Context) (monitor, output string, err error) {
	si, err := PulseInfo(ctx)
	if err != nil {
		return "", "", err
	}
	sinks, err := PulseSinks(ctx)
	if err != nil {
		return "", "", err
	}
	for _, s := range sinks {
		if s.Name == si.DefaultSink && s.Monitor != "" {
			return s.Monitor, s.Description, nil
		}
	}
	return "", "", fmt.Errorf("audio: the sound server's default output %q has no monitor — choose the call audio in the settings", si.DefaultSink)
}

// streamIndexByTag finds the source-output index of one of Assent's own
// capture streams.
func streamIndexByTag(ctx context.Context, tag string) (int, error) {
	streams, err := CaptureStreams(ctx)
	if err != nil {
		return 0, err
	}
	for _, st := range streams {
		if st.Tag == tag {
			return st.Index, nil
		}
	}
	return 0, fmt.Errorf("audio: the sound server does not list our capture stream %q", tag)
}
