// Package app is Assent's desktop user interface (Fyne): screens and view
// models, nothing else.
//
// It owns what people see and press — first run, a new call, the consent
// screen, the recording screen, the library and the settings — and hands
// every decision to a Backend: whether the consent gate is open, what is
// captured, stored, synced or deleted. main.go builds the real backend
// (internal/desktop) and passes it in; FakeBackend, an in-memory one whose
// calls run the real consent gate (recording.Call over consent.Session),
// and the screenshot tour live in this package's _test.go files only.
//
//	u, err := app.New(fyneApp, backend, true) // builds and shows the window
//	app.Run(backend)                          // the desktop entry point
//
// Window first: New draws the first screen before the backend is asked
// anything slow; the start-up checks (keyring, sound server) run in the
// background with a bound, show progress and can be retried (checks.go).
// Errors reach the rep as plain sentences (errors.go): typed errors become
// what happened and what to do; package names, D-Bus names and source
// paths go to the log only.
//
// The package must never:
//
//   - decide consent itself, or show "recording" for audio the backend did
//     not admit (the timer shows CallState.Recorded, which only the gate
//     advances);
//   - write a secret (enrolment code, keys) to Fyne preferences or logs;
//   - touch a widget from a goroutine other than Fyne's (pollers use fyne.Do);
//   - show an error other than as a plain-language dialog, or crash on bad input;
//   - run its screenshot tour (Screenshots) over the real backend — it
//     answers consent screens by itself.
//
// UI text is English in the source and translated through fyne's lang
// package from assets/translations; see docs/ui.md for the screens, the
// Backend contract and the ASSENT_AUTOMATION hook for real-window tests.
package app
