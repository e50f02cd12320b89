// Package cli is Assent's command line: the same binary as the desktop app,
// for automation, headless machines and power users.
//
// Every command prints what it did on stdout and, on failure, one plain
// sentence on stderr saying what went wrong and what to do next; it never
// prints a stack trace, audio, keys or personal data beyond what the user
// asked to see. Exit codes are stable (docs/cli.md):
//
//	0 success
//	1 the command failed (I/O, sound, network); the message says why
//	2 usage error: unknown command or bad flag
//	3 consent was refused or withdrawn before anything was recorded
//	4 the OS keyring or the device key is not available
//	5 no such recording
//	6 no display to open the app's window on (assent with no command)
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes (documented in docs/cli.md).
const (
	ExitOK        = 0
	ExitFailed    = 1
	ExitUsage     = 2
	ExitRefused   = 3
	ExitKeyring   = 4
	ExitNotFound  = 5
	ExitNoDisplay = 6
)

// env is what a command runs with.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command struct {
	summary string
	usage   string
	run     func(e *env, args []string) int
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"help":    {"show this help", "assent help [COMMAND]", cmdHelp},
		"devices": {"list the audio input devices", "assent devices", cmdDevices},
	}
	registerMoreCommands()
}

// Main runs the command line with args (without the program name) and
// returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		// The app itself is opened by main.go (the composition root).
		return cmdHelp(e, nil)
	}
	name := args[0]
	switch name {
	case "-h", "--help":
		name = "help"
	case "--version", "version":
		fmt.Fprintln(stdout, "assent", Version)
		return ExitOK
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "assent: unknown command %q; run 'assent help' for the list\n", args[0])
		return ExitUsage
	}
	return c.run(e, args[1:])
}

// Version is the version printed by `assent version` (set with -ldflags).
var Version = "0.1.0-dev"

func cmdHelp(e *env, args []string) int {
	if len(args) == 1 {
		if c, ok := commands[args[0]]; ok {
			fmt.Fprintf(e.stdout, "%s\n\n  %s\n", c.usage, c.summary)
			return ExitOK
		}
		fmt.Fprintf(e.stderr, "assent: no command %q\n", args[0])
		return ExitUsage
	}
	fmt.Fprint(e.stdout, "Assent records calls only while everyone on the call has agreed.\n\n")
	fmt.Fprint(e.stdout, "  assent                 open the app\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(e.stdout, "  %-22s %s\n", "assent "+n, commands[n].summary)
	}
	fmt.Fprint(e.stdout, "\nRun 'assent help COMMAND' for its flags. Exit codes: docs/cli.md.\n")
	return ExitOK
}

// flags returns a FlagSet that reports errors the CLI way.
func flags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: %s\n", commands[name].usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; it returns a non-negative exit code when the command
// must stop (help asked for, or a usage error).
// Flags may come before or after the positional arguments
// ("assent export ID --out DIR"); "--" ends the flags.
func parse(fs *flag.FlagSet, args []string) int {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return ExitOK
			}
			return ExitUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if err := fs.Parse(append([]string{"--"}, pos...)); err != nil {
		return ExitUsage
	}
	return -1
}

// fail prints one plain sentence and returns the exit code.
// Error arguments are explained (hints.go): what happened, then what to do.
func fail(e *env, code int, format string, a ...any) int {
	for i, x := range a {
		if err, ok := x.(error); ok {
			a[i] = explain(err)
		}
	}
	msg := fmt.Sprintf(format, a...)
	msg = strings.TrimPrefix(msg, "assent: ")
	fmt.Fprintln(e.stderr, "assent: "+msg)
	return code
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ", ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

var _ = os.Stdout
