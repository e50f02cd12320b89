package callwatch

import (
	"context"
	"testing"
	"time"

	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/internal/pulsetest"
	"github.com/assent-app/assent/internal/testenv"
)

func TestIdentify(t *testing.T) {
	for _, c := range []struct {
		st   audio.CaptureStream
		want string
	}{
		{audio.CaptureStream{App: "ZOOM VoiceEngine", Binary: "zoom"}, "Zoom"},
		{audio.CaptureStream{App: "Zoom", Binary: "pacat"}, "Zoom"},
		{audio.CaptureStream{App: "Microsoft Teams - Preview", Binary: "teams"}, "Microsoft Teams"},
		{audio.CaptureStream{App: "Firefox", Binary: "firefox-esr", Media: "Meet - abc-defg-hij"}, "Firefox"},
		{audio.CaptureStream{App: "Chromium input", Binary: "chromium"}, "Chrome"},
		{audio.CaptureStream{App: "Webex", Binary: "CiscoCollabHost"}, "Webex"},
		{audio.CaptureStream{App: "Slack", Binary: "slack"}, "Slack"},
		{audio.CaptureStream{App: "GNOME Sound Recorder", Binary: "gnome-sound-recorder"}, ""},
		{audio.CaptureStream{App: "ALSA plug-in [assent]", Binary: "assent", Tag: "1-2-call-audio"}, ""},
		{audio.CaptureStream{}, ""},
	} {
		got, ok := Identify(c.st)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%+v: %q %v, want %q", c.st, got, ok, c.want)
		}
	}
	n := NoticeFor("Zoom")
	if n.Message != "Zoom is using your microphone — record this call with everyone's consent?" || n.Title != "Zoom call" {
		t.Fatalf("%+v", n)
	}
}

func runWatcher(t *testing.T, enabled bool) <-chan Notice {
	t.Helper()
	got := make(chan Notice, 10)
	w := &Watcher{Notify: func(n Notice) { got <- n }, Enabled: func() bool { return enabled }, Ready: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-w.Ready:
	case err := <-done:
		t.Fatalf("the watcher ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher did not start in 10 s")
	}
	return got
}

// TestRealFakeCallAppNotifiesOnce: a process that the sound server knows as
// Zoom opens a capture stream (parec): exactly one notification, titled
// from the application, even when it opens a second stream; an ordinary
// recorder gives none; after Zoom ends and starts again, one more.
func TestRealFakeCallAppNotifiesOnce(t *testing.T) {
	testenv.RequirePulse(t)
	srv := pulsetest.Start(t)
	got := runWatcher(t, true)
	srv.FakeCallApp(t, "Recorder", "gnome-sound-recorder")
	stop := srv.FakeCallApp(t, "Zoom", "zoom")
	select {
	case n := <-got:
		if n.App != "Zoom" || n.Title != "Zoom call" || n.Message != "Zoom is using your microphone — record this call with everyone's consent?" {
			t.Fatalf("notice %+v", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification within 10 s of Zoom taking the microphone")
	}
	stop2 := srv.FakeCallApp(t, "Zoom", "zoom") // a second stream of the same call
	time.Sleep(1500 * time.Millisecond)
	select {
	case n := <-got:
		t.Fatalf("a second notification for the same call: %+v", n)
	default:
	}
	stop()
	stop2()
	time.Sleep(1500 * time.Millisecond)
	srv.FakeCallApp(t, "Zoom", "zoom") // the next call
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification for the next call")
	}
}

// TestRealCallWatchOffNotifiesNothing: with the setting off, Zoom taking
// the microphone gives no notification.
func TestRealCallWatchOffNotifiesNothing(t *testing.T) {
	testenv.RequirePulse(t)
	srv := pulsetest.Start(t)
	got := runWatcher(t, false)
	srv.FakeCallApp(t, "Zoom", "zoom")
	// Proof that the watcher saw the stream: the sound server lists it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		sts, _ := audio.CaptureStreams(context.Background())
		if len(sts) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fake call application's stream never appeared")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	select {
	case n := <-got:
		t.Fatalf("notified while switched off: %+v", n)
	default:
	}
}
