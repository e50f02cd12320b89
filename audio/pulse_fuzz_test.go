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
	f.Add([]byte(`[{"index":3,"sink":0,"properties":{"application.name":"Zoom","application.process.binary":"zoom","application.process.id":"7"}}]`))
	f.Add([]byte("11\tmodule-null-sink\tsink_name=assent_call_42_9001_1 sink_properties='device.description=\"Assent - call audio\"'\t\n12\tmodule-loopback\tsource=assent_call_42_9001_1.monitor\t\n"))
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
		_, _ = parsePlaybackStreams(b)
		for _, m := range parseShortModules(b) {
			if m.Index < 0 || strings.Contains(m.Name, "\t") {
				t.Fatalf("module line parsed as %+v", m)
			}
			if pid, _, ok := routingOwner(m.Arg); ok && pid <= 0 {
				t.Fatalf("owner pid %d from %q", pid, m.Arg)
			}
		}
		if pid, _, ok := routingOwner(string(b)); ok && pid <= 0 {
			t.Fatalf("owner pid %d from %q", pid, b)
		}
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

func TestCallOnlyAnswersParsed(t *testing.T) {
	ps, err := parsePlaybackStreams([]byte(`[{"index":3,"sink":1,"properties":{"application.name":"Zoom","application.process.binary":"zoom","application.process.id":"7"}},` +
		`{"index":4,"sink":0,"properties":{"media.name":"Assent - call audio","assent.callonly":"42_9001_1"}}]`))
	if err != nil || len(ps) != 2 || ps[0] != (PlaybackStream{Index: 3, Sink: 1, App: "Zoom", Binary: "zoom", PID: 7}) || ps[1].Tag != "42_9001_1" {
		t.Fatalf("%+v %v", ps, err)
	}
	if _, err := parsePlaybackStreams([]byte(`{`)); err == nil {
		t.Fatal("a broken stream list was accepted")
	}
	mods := parseShortModules([]byte("0\tmodule-null-sink\tsink_name=speakers\t\n" +
		"11\tmodule-null-sink\tsink_name=assent_call_42_9001_1 sink_properties='device.description=\"Assent - call audio\"'\t\n" +
		"12\tmodule-loopback\tsource=assent_call_42_9001_1.monitor sink=speakers\t\nnot a module\n"))
	if len(mods) != 3 || mods[1].Index != 11 || mods[2].Name != "module-loopback" {
		t.Fatalf("%+v", mods)
	}
	for _, c := range []struct {
		arg   string
		pid   int
		start uint64
		ok    bool
	}{
		{mods[1].Arg, 42, 9001, true},
		{mods[2].Arg, 42, 9001, true},
		{mods[0].Arg, 0, 0, false},
		{"sink_name=assent_call_x_1_2", 0, 0, false},
		{"sink_name=assent_call_0_1_2", 0, 0, false},
		{"sink_name=assent_call_5_1", 0, 0, false},
	} {
		pid, start, ok := routingOwner(c.arg)
		if pid != c.pid || start != c.start || ok != c.ok {
			t.Errorf("routingOwner(%q) = %d %d %v, want %d %d %v", c.arg, pid, start, ok, c.pid, c.start, c.ok)
		}
	}
	for in, want := range map[string]string{"app": "", "app:Zoom": "Zoom", "app: Microsoft Teams ": "Microsoft Teams"} {
		if app, ok := IsCallAppInput(in); !ok || app != want {
			t.Errorf("IsCallAppInput(%q) = %q %v, want %q", in, app, ok, want)
		}
	}
	for _, in := range []string{"", "output", "app:", "pulse:app.monitor", "none"} {
		if _, ok := IsCallAppInput(in); ok {
			t.Errorf("IsCallAppInput(%q) is a call app", in)
		}
	}
	if n, ok := CallAppName("ZOOM VoiceEngine", "zoom"); !ok || n != "Zoom" {
		t.Fatal(n, ok)
	}
	if _, ok := CallAppName("Rhythmbox", "rhythmbox"); ok {
		t.Fatal("a music player taken for a call app")
	}
}

func TestPickCallAppPrefersACallAppOverABrowser(t *testing.T) {
	for _, c := range []struct {
		streams []CaptureStream
		want    string
	}{
		{[]CaptureStream{{App: "Firefox", Binary: "firefox"}, {App: "ZOOM VoiceEngine", Binary: "zoom"}}, "Zoom"},
		{[]CaptureStream{{App: "Zoom", Binary: "zoom"}, {App: "Chromium", Binary: "chromium"}}, "Zoom"},
		{[]CaptureStream{{App: "Chromium", Binary: "chromium"}}, "Chrome"},
		{[]CaptureStream{{App: "ALSA plug-in [assent]", Binary: "assent", Tag: "1-2-call-audio"}, {App: "Audacity"}}, ""},
		{nil, ""},
	} {
		if got := pickCallApp(c.streams); got != c.want {
			t.Errorf("%+v: %q, want %q", c.streams, got, c.want)
		}
	}
}
