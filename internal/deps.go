//go:build tools

// Package internal pins the project's chosen dependencies in go.mod while the
// packages that use them are written (see docs/design.md). The build tag keeps
// it out of every build.
package internal

import (
	_ "filippo.io/age"
	_ "fyne.io/fyne/v2/app"
	_ "fyne.io/fyne/v2/test"
	_ "github.com/ebitengine/oto/v3"
	_ "github.com/gordonklaus/portaudio"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/tus/tusd/v2/pkg/filestore"
	_ "github.com/tus/tusd/v2/pkg/handler"
	_ "github.com/zalando/go-keyring"
	_ "gopkg.in/hraban/opus.v2"
	_ "modernc.org/sqlite"
)
