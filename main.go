// Command assent is the Assent desktop call recorder.
//
// With no arguments it opens the Fyne app. With a subcommand (record, list,
// play, export, delete, devices, key, sync, …) it works in the terminal; see
// `assent help` and docs/cli.md.
package main

import (
	"os"

	"github.com/assent-app/assent/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
