// Package cli is Assent's command line: the same binary as the desktop app,
// for automation, headless machines and power users.
package cli

import (
	"fmt"
	"io"

	"github.com/assent-app/assent/app"
)

// Main runs the command line with args (without the program name) and
// returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		if err := app.Run(); err != nil {
			fmt.Fprintln(stderr, "assent:", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "assent: unknown command %q; run 'assent help'\n", args[0])
	return 2
}
