// Package assets embeds everything Assent ships besides code: the app icon,
// the versioned consent notices (one file per language and version), the UI
// translations and the sounds (chime, spoken notices).
//
// Notice files are never edited once released: a changed text is a new
// version, because consent records point at a notice by id, version and the
// SHA-256 of its exact text.
package assets

import (
	"embed"
	"io/fs"
)

//go:embed icons/*.png
var icons embed.FS

//go:embed notices
var notices embed.FS

//go:embed translations
var translations embed.FS

//go:embed sounds
var sounds embed.FS

// Icon returns the application icon (PNG, 512×512).
func Icon() []byte {
	b, err := icons.ReadFile("icons/assent.png")
	if err != nil {
		panic("assets: icon missing from the build: " + err.Error())
	}
	return b
}

func sub(f embed.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic("assets: " + err.Error())
	}
	return s
}

// Notices is the tree of notice texts: notices/<id>/<version>/<lang>.md.
func Notices() fs.FS { return sub(notices, "notices") }

// Translations holds the UI translations as <lang>.json for fyne's lang package.
func Translations() fs.FS { return sub(translations, "translations") }

// Sounds holds chimes and spoken notices.
func Sounds() fs.FS { return sub(sounds, "sounds") }
