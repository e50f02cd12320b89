package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/internal/config"
	"github.com/assent-app/assent/recording"
)

func cmdDevices(e *env, args []string) int {
	fs := flags(e, "devices")
	if c := parse(fs, args); c >= 0 {
		return c
	}
	ctx := context.Background()
	mics, err := audio.MicChoices(ctx)
	if err != nil {
		return fail(e, ExitFailed, "%v", err)
	}
	fmt.Fprintln(e.stdout, "Microphone (--input; left channel):")
	printChoices(e, mics)
	calls, err := audio.CallChoices(ctx)
	fmt.Fprintln(e.stdout, "\nThe other side of the call (--call-input; right channel):")
	if err != nil {
		fmt.Fprintf(e.stdout, "  %v\n", err)
	}
	printChoices(e, calls)
	if devs, err := audio.Devices(); err == nil && len(devs) > 0 {
		fmt.Fprintln(e.stdout, "\nOther input devices (by name or number):")
		for _, d := range devs {
			fmt.Fprintf(e.stdout, "  %3d  %-40s %-8s %d ch\n", d.Index, d.Name, d.HostAPI, d.MaxChannels)
		}
	}
	fmt.Fprintln(e.stdout, "\n* = used when nothing is chosen. Without flags 'assent record' records both sides.")
	return ExitOK
}

func printChoices(e *env, cs []audio.Choice) {
	for _, c := range cs {
		mark, id := " ", c.ID
		if c.Default {
			mark, id = "*", "(default)"
		}
		fmt.Fprintf(e.stdout, "%s %-34s %s", mark, id, c.Name)
		if c.Warning != "" {
			fmt.Fprintf(e.stdout, " — %s", c.Warning)
		}
		fmt.Fprintln(e.stdout)
	}
}

// captureConfig turns the --input / --call-input flags (or, when empty,
// the settings) into what to capture. Recording the microphone alone is
// said out loud.
func captureConfig(e *env, cfg config.Config, input, callInput string) audio.CaptureConfig {
	if input == "" {
		input = cfg.Input
	}
	if callInput == "" {
		callInput = cfg.CallInput
	}
	cc := audio.CaptureConfig{Input: input, CallInput: config.CallInputFor(callInput)}
	if cc.CallInput == "" {
		fmt.Fprintf(e.stderr, "note: %s\n", audio.NoCallAudioWarning)
	}
	return cc
}

// sayCallAudio prints whose sound is recorded as the other side of the call.
func sayCallAudio(e *env, src audio.Source) {
	if app := audio.RecordedApp(src); app != "" {
		fmt.Fprintf(e.stderr, "Call audio: only %s's sound (not notifications, music or other apps)\n", app)
	}
}

// captureError adds what to do when the call's audio cannot be captured.
func captureError(err error) error {
	if errors.Is(err, audio.ErrNoCallApp) || errors.Is(err, audio.ErrCallOnlyUnsupported) {
		return fmt.Errorf("%v\nTo record everything this computer plays instead, use --call-input output", err)
	}
	if errors.Is(err, audio.ErrCallAudioUnsupported) || errors.Is(err, audio.ErrNoSoundServer) {
		return fmt.Errorf("%v\nTo record only your microphone, use --call-input none", err)
	}
	return err
}

// warnSilentSide prints the silent-side warning (the rule of
// audio.Meters.SilentSide, the same words as the app) each time it starts
// to hold, until the call ends.
func warnSilentSide(e *env, call *recording.Call) {
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := audio.BothSidesHeard
		for {
			select {
			case <-call.Done():
				return
			case <-t.C:
			}
			s := call.Meters().SilentSide()
			if s != last && s != audio.BothSidesHeard {
				fmt.Fprintf(e.stderr, "⚠ %s\n", s.Message())
			}
			last = s
		}
	}()
}
