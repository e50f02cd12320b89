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
	// OnlyApp: this choice records only a call application's sound (App,
	// or "" for the one using the microphone when the call starts), not
	// everything the computer plays.
	OnlyApp bool
	App     string
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
	out := append([]Choice{def}, onlyAppChoices(ctx)...)
	out = append(out, rest...)
	return append(out, none), nil
}

// onlyAppChoices offers recording only the call application's sound: the
// one using the microphone when the call starts ("Only the call app
// (Zoom)" names the one using it now), and each call application using
// the microphone or playing sound now by name.
func onlyAppChoices(ctx context.Context) []Choice {
	auto := CallAppChoice(CallApp)
	var named []Choice
	seen := map[string]bool{}
	add := func(app, binary string) {
		if name, ok := CallAppName(app, binary); ok && !seen[name] {
			seen[name] = true
			named = append(named, CallAppChoice(CallApp+":"+name))
		}
	}
	if cs, err := CaptureStreams(ctx); err == nil {
		if now := pickCallApp(cs); now != "" {
			auto.Name = "Only the call app (" + now + ")"
		}
		for _, c := range cs {
			if c.Tag == "" {
				add(c.App, c.Binary)
			}
		}
	}
	if b, err := pactl(ctx, "list", "sink-inputs"); err == nil {
		if ps, err := parsePlaybackStreams(b); err == nil {
			for _, p := range ps {
				if p.Tag == "" {
					add(p.App, p.Binary)
				}
			}
		}
	}
	return append([]Choice{auto}, named...)
}

// CallAppChoice is the choice for a CallInput that records only a call
// application's sound ("app" or "app:NAME"), named for people.
func CallAppChoice(id string) Choice {
	app, _ := IsCallAppInput(id)
	c := Choice{ID: id, OnlyApp: true, App: app, Name: "Only the call app"}
	if app != "" {
		c.Name = "Only " + app + "'s sound"
	}
	return c
}
