// Command shots opens the real Assent window over FakeBackend (needs a
// display, e.g. Xvfb), walks through every screen and saves a PNG of each
// into the directory given as the first argument (default
// artifacts/screenshots). It drives the UI through the same hooks the
// automation file names, so what it captures is what a user sees.
//
//	scripts/with-real-parts.sh go run ./app/internal/shots artifacts/screenshots
package main

import (
	"fmt"
	"os"

	"github.com/assent-app/assent/app"
)

func main() {
	dir := "artifacts/screenshots"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := app.Screenshots(dir); err != nil {
		fmt.Fprintln(os.Stderr, "shots:", err)
		os.Exit(1)
	}
}
