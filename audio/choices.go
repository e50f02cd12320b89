package audio

import (
	"context"
	"errors"
	"strings"
)

// Choice is a capture device offered in the settings and by `assent
// devices`, with a human name. ID is what the settings store (and the
// --input / --call-input flags take): for the call audio "" means what this
// computer plays (the default) and "none" the microphone alone.
type Choice struct {
	ID      string
	Name    string // "Headset microphone", "Laptop speakers — call audio"
	Default bool   // the choice an empty setting makes
	Warning string // plain words shown when it is chosen
}

// NoCallAudioWarning is shown when "(none)" is chosen for the call audio.
const NoCallAudioWarning = "The other side of the call will not be recorded — only your microphone."

// human turns a sound server description like "Headset_microphone" into
// "Headset microphone".
func human(desc string) string {
	return strings.TrimSpace(strings.ReplaceAll(desc, "_", " "))
}

// MicChoices lists the microphones: the default input first (named after
// the device it is now), then every input of the sound server that is not a
// monitor of an output. Without PulseAudio/PipeWire it lists PortAudio's
// devices.
func MicChoices(ctx context.Context) ([]Choice, error) {
	si, err1 := PulseInfo(ctx)
	srcs, err2 := PulseSources(ctx)
	if err := errors.Join(err1, err2); err != nil {
		devs, err := Devices()
		if err != nil {
			return nil, err
		}
		out := []Choice{{ID: "", Name: "Default microphone", Default: true}}
		for _, d := range devs {
			out = append(out, Choice{ID: d.Name, Name: d.Name})
		}
		return out, nil
	}
	def := Choice{ID: "", Name: "Default microphone", Default: true}
	var rest []Choice
	for _, s := range srcs {
		if s.IsMonitor() {
			continue
		}
		if s.Name == si.DefaultSource {
			def.Name = "Default microphone (" + human(s.Description) + ")"
		}
		rest = append(rest, Choice{ID: "pulse:" + s.Name, Name: human(s.Description)})
	}
	return append([]Choice{def}, rest...), nil
}

// CallChoices lists what can be recorded as the other side of the call:
// what this computer plays (the default, followed), the sound of each
// output, and "(none)" with its warning. On a system where call audio is
// not supported it returns only "(none)" and ErrCallAudioUnsupported.
func CallChoices(ctx context.Context) ([]Choice, error) {
	none := Choice{ID: "none", Name: "(none)", Warning: NoCallAudioWarning}
	if !CallAudioSupported {
		return []Choice{none}, ErrCallAudioUnsupported
	}
	if callOutputByLoopback { // Windows
		return loopbackCallChoices(none)
	}
	si, err1 := PulseInfo(ctx)
	sinks, err2 := PulseSinks(ctx)
	if err := errors.Join(err1, err2); err != nil {
		return []Choice{none}, err
	}
	def := Choice{ID: "", Name: "What this computer plays", Default: true}
	var rest []Choice
	for _, s := range sinks {
		if s.Monitor == "" {
			continue
		}
		name := human(s.Description) + " — call audio"
		if s.Name == si.DefaultSink {
			def.Name = "What this computer plays (" + name + ")"
		}
		rest = append(rest, Choice{ID: "pulse:" + s.Monitor, Name: name})
	}
	out := append([]Choice{def}, rest...)
	return append(out, none), nil
}
