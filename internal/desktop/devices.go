package desktop

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/assent-app/assent/app"
	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/internal/callwatch"
	"github.com/assent-app/assent/internal/config"
)

// Device IDs the app shows for "follow the system's default": the default
// microphone and what this computer plays. Other IDs are audio's device
// names ("pulse:SOURCE", a PortAudio name); "none" is the explicit
// choice of recording no call audio.
const (
	DefaultMicID  = "default-mic"
	DefaultCallID = "default-call"
)

// deviceList lists the microphones and the call audio choices with the
// sound server's human names, the defaults first and marked Default (so
// the new-call screen meters both sides), the call sources marked Call.
func deviceList(cfg config.Config) ([]app.Device, error) {
	ctx := context.Background()
	mics, err := audio.MicChoices(ctx)
	if err != nil {
		return nil, err
	}
	var out []app.Device
	for _, m := range mics {
		d := app.Device{ID: m.ID, Name: m.Name}
		if m.Default {
			d.ID, d.Default = DefaultMicID, true
		}
		out = append(out, d)
	}
	calls, _ := audio.CallChoices(ctx) // without call audio: only "(none)"
	_, onlyApp := audio.IsCallAppInput(cfg.CallInput)
	listed := false
	for _, c := range calls {
		if c.ID == config.CallNone {
			continue // the settings offer "(none)" themselves; unchecking it in a call is the same
		}
		d := app.Device{ID: c.ID, Name: c.Name, Call: true, OnlyApp: c.OnlyApp, App: c.App}
		if c.Default {
			d.ID, d.Default = DefaultCallID, cfg.CallInput != config.CallNone && !onlyApp
		}
		if onlyApp && c.ID == cfg.CallInput {
			d.Default, listed = true, true
		}
		out = append(out, d)
	}
	if onlyApp && !listed && audio.CallAudioSupported {
		// The chosen call app is not running now: still the choice.
		c := audio.CallAppChoice(cfg.CallInput)
		out = append(out, app.Device{ID: c.ID, Name: c.Name, Call: true, OnlyApp: true, App: c.App, Default: true})
	}
	return out, nil
}

// settingToConfig maps an app device ID to the settings file's value.
func settingToConfig(id string) string {
	if id == DefaultMicID || id == DefaultCallID {
		return ""
	}
	return id // "" = the default, "none" = no call audio, or a device
}

// captureFor turns the devices checked on the new-call screen (or a
// meter's) into what to capture: the first microphone is the left
// channel, the first call source the right one. Only a call source
// checked: it is recorded alone.
func captureFor(ids []string) (audio.CaptureConfig, error) {
	var cc audio.CaptureConfig
	mic, call := "", ""
	for _, id := range ids {
		_, onlyApp := audio.IsCallAppInput(id)
		isCall := id == DefaultCallID || strings.HasSuffix(id, ".monitor") || onlyApp
		switch {
		case isCall && call == "":
			call = id
		case !isCall && mic == "":
			mic = id
		}
	}
	if mic != "" {
		cc.Input = settingToConfig(mic)
		if call != "" {
			cc.CallInput = config.CallInputFor(settingToConfig(call))
		}
		return cc, nil
	}
	if _, onlyApp := audio.IsCallAppInput(call); onlyApp {
		return cc, errors.New("recording only the call app's sound needs your microphone too — check the microphone, or choose another call audio")
	}
	if call == DefaultCallID {
		src, _, err := audio.DefaultCallMonitor(context.Background())
		if err != nil {
			return cc, err
		}
		call = "pulse:" + src
	}
	cc.Input = call
	return cc, nil
}

// WatchCalls implements app.CallWatcher: notify is called when a known
// call application starts using the microphone (internal/callwatch).
func (b *Backend) WatchCalls(ctx context.Context, enabled func() bool, notify func(app.CallNotice)) error {
	w := &callwatch.Watcher{Enabled: enabled, Notify: func(n callwatch.Notice) {
		notify(app.CallNotice{App: n.App, Title: n.Title, Message: n.Message})
	}}
	return w.Run(ctx)
}

// silentSideWarning is the recording screen's warning about a missing side.
func silentSideWarning(ms *audio.Meters) string {
	return ms.SilentSide().Message()
}

// noCallAudio refuses a call that would silently record one side: the
// settings do not say "(none)", no call audio was chosen, and this system
// offers none to choose (not supported here, or no sound server to ask).
// A call audio device the user unchecked on the new-call screen is an
// explicit choice and is not refused.
func noCallAudio(cfg config.Config, cc audio.CaptureConfig) error {
	if cc.CallInput != "" || cfg.CallInput == config.CallNone {
		return nil
	}
	calls, err := audio.CallChoices(context.Background())
	for _, c := range calls {
		if c.ID != config.CallNone {
			return nil // there was a choice; leaving it out was the user's
		}
	}
	if err == nil {
		err = audio.ErrCallAudioUnsupported
	}
	return fmt.Errorf("%w\nIn Settings, choose \"(none)\" as the call audio to record only your microphone", err)
}
