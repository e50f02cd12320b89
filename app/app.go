// Package app is Assent's Fyne user interface: screens and view models only.
// It holds no business logic: consent lives in consent/, capture in audio/,
// the encrypted library in vault/, sync in sync/. Goroutines touch widgets
// only through fyne.Do.
package app

import (
	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/widget"

	"github.com/assent-app/assent/assets"
)

// ID is the application ID (reverse DNS, no hyphens).
const ID = "app.assent.recorder"

// Run opens the main window and blocks until the app quits.
func Run() error {
	a := fyneapp.NewWithID(ID)
	a.SetIcon(fyne.NewStaticResource("assent.png", assets.Icon()))
	w := a.NewWindow("Assent")
	w.SetContent(widget.NewLabel("Assent"))
	w.Resize(fyne.NewSize(900, 640))
	w.ShowAndRun()
	return nil
}
