// Package app is Assent's desktop user interface (Fyne): screens and view
// models, nothing else.
//
// It owns what people see and press — first run, a new call, the consent
// screen, the recording screen, the library and the settings — and hands
// every decision to a Backend: whether the consent gate is open, what is
// captured, stored, synced or deleted. The real backend is
// internal/desktop (it sets NewBackend); FakeBackend is an honest in-memory
// one for tests, screenshots and demo mode.
//
//	u, err := app.New(fyneApp, backend, true) // builds and shows the window
//	app.Run()                                 // the desktop entry point
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
