// Command assent is the Assent desktop call recorder.
//
// With no arguments it opens the Fyne app. With a subcommand (record, list,
// play, export, delete, devices, key, sync, …) it works in the terminal; see
// `assent help` and docs/cli.md.
//
// This is the composition root: it builds the real backend
// (internal/desktop, over the settings, the vault, the consent session, the
// audio pipeline and the sync client) and hands it to the UI.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/assent-app/assent/app"
	"github.com/assent-app/assent/cli"
	"github.com/assent-app/assent/internal/desktop"
	"github.com/assent-app/assent/internal/sessionbus"
)

func main() {
	// Fyne, the keyring and the sync token speak D-Bus: without a session
	// bus, make them fail at once rather than autolaunch one (a dbus-daemon
	// left behind per start, and two-minute waits).
	sessionbus.PreventAutolaunch()
	if len(os.Args) > 1 {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(runApp(os.Stderr))
}

// runApp opens the window over the real backend and returns the exit code.
// Every failure is one plain sentence on stderr, never a Go panic.
func runApp(stderr io.Writer) (code int) {
	if err := app.CheckDisplay(); err != nil {
		fmt.Fprintf(stderr, "assent: %v. Start Assent from your desktop session (or use `ssh -X`), or use the command line: assent help\n", err)
		return cli.ExitNoDisplay
	}
	defer func() {
		if r := recover(); r != nil {
			slog.Error("the app stopped unexpectedly", "panic", r)
			fmt.Fprintln(stderr, "assent: the app stopped unexpectedly. Start it again: a recording in progress is recovered up to its last few seconds. If it keeps happening, send the log above to your administrator.")
			code = cli.ExitFailed
		}
	}()
	b, err := desktop.Open()
	if err != nil {
		fmt.Fprintf(stderr, "assent: %v\n", err)
		return cli.ExitFailed
	}
	if err := app.Run(b); err != nil {
		fmt.Fprintf(stderr, "assent: %v\n", err)
		return cli.ExitFailed
	}
	return cli.ExitOK
}
