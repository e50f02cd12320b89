package cli

import (
	"fmt"

	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/internal/platform"
)

func cmdDevices(e *env, args []string) int {
	fs := flags(e, "devices")
	if c := parse(fs, args); c >= 0 {
		return c
	}
	devs, err := audio.Devices()
	if err != nil {
		return fail(e, ExitFailed, "%v", err)
	}
	if len(devs) == 0 {
		return fail(e, ExitFailed, "no audio input device found — %s", platform.NoInputFix())
	}
	for _, d := range devs {
		mark := " "
		if d.Default {
			mark = "*"
		}
		fmt.Fprintf(e.stdout, "%s %3d  %-40s %-8s %d ch\n", mark, d.Index, d.Name, d.HostAPI, d.MaxChannels)
	}
	fmt.Fprintln(e.stdout, "\n* = default input. Use --input NAME (or pulse:SOURCE) with 'assent record'.")
	return ExitOK
}
