package audio

import (
	"strings"
	"testing"
)

// FuzzPulseAnswers: whatever pactl prints, the parsers return a value or
// an error in words, never panic.
func FuzzPulseAnswers(f *testing.F) {
	f.Add([]byte(`{"server_name":"pulseaudio","server_version":"16.1","default_sink_name":"speakers","default_source_name":"mic"}`))
	f.Add([]byte(`[{"index":0,"name":"speakers","description":"Laptop speakers","monitor_source":"speakers.monitor","properties":{"device.class":"sound"}}]`))
	f.Add([]byte(`[{"index":1,"driver":"protocol-native.c","properties":{"application.name":"Zoom","application.process.binary":"zoom","application.process.id":"42"}}]`))
	f.Add([]byte("Event 'change' on server #4294967295"))
	f.Add([]byte(`[{"index":"x"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseServerInfo(b)
		if ds, err := parseDevices(b); err == nil {
			for _, d := range ds {
				_ = d.IsMonitor()
				if d.Description == "" && d.Name != "" {
					t.Fatalf("device %q without a description", d.Name)
				}
			}
		}
		_, _ = parseCaptureStreams(b)
		for _, l := range strings.Split(string(b), "\n") {
			if ev, ok := parseSoundEvent(l); ok && (ev.Kind == "" || ev.Facet == "") {
				t.Fatalf("event without kind or facet from %q", l)
			}
		}
	})
}

func TestPulseAnswersParsed(t *testing.T) {
	si, err := parseServerInfo([]byte(`{"server_name":"PulseAudio (on PipeWire 1.0.5)","default_sink_name":"alsa_output.pci.analog-stereo","default_source_name":"alsa_input.pci.analog-stereo"}`))
	if err != nil || si.DefaultSink != "alsa_output.pci.analog-stereo" || si.DefaultSource != "alsa_input.pci.analog-stereo" {
		t.Fatalf("%+v %v", si, err)
	}
	if _, err := parseServerInfo([]byte(`{}`)); err == nil {
		t.Fatal("a server without defaults was accepted")
	}
	ss, err := parseCaptureStreams([]byte(`[{"index":0,"properties":{"media.name":"Remapped Stream"}},` +
		`{"index":7,"properties":{"application.name":"Zoom","application.process.binary":"zoom","application.process.id":"42","media.name":"input"}}]`))
	if err != nil || len(ss) != 1 || ss[0] != (CaptureStream{Index: 7, App: "Zoom", Binary: "zoom", Media: "input", PID: 42}) {
		t.Fatalf("%+v %v (the server's own filter stream must be left out)", ss, err)
	}
	ev, ok := parseSoundEvent("Event 'new' on source-output #12")
	if !ok || ev != (SoundEvent{Kind: "new", Facet: "source-output", Index: 12}) {
		t.Fatalf("%+v %v", ev, ok)
	}
	for _, bad := range []string{"", "Event", "Event 'new' on #1", "Event 'new' on sink #x"} {
		if _, ok := parseSoundEvent(bad); ok {
			t.Fatalf("%q parsed as an event", bad)
		}
	}
}
