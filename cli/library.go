package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/internal/config"
	"github.com/assent-app/assent/internal/workspace"
	"github.com/assent-app/assent/vault"
)

func init() {
	commands["list"] = command{"list the recordings", "assent list", cmdList}
	commands["play"] = command{"play a recording", "assent play ID", cmdPlay}
	commands["export"] = command{"export a recording (decrypted audio, consent record, receipts)", "assent export ID --out DIR", cmdExport}
	commands["delete"] = command{"delete a recording here and, once synced, on the server", "assent delete [--yes] ID", cmdDelete}
	commands["key"] = command{"back up or restore the device key (age identity)", "assent key export [--out FILE] | assent key import FILE", cmdKey}
}

// openRecording opens the workspace and finds one recording in it.
func openRecording(e *env, id string) (*session, vault.Summary, int) {
	ws, code := open(e)
	if code >= 0 {
		return nil, vault.Summary{}, code
	}
	s, code := lookup(e, ws, id)
	return ws, s, code
}

// lookup finds a recording by id or unique id prefix.
func lookup(e *env, ws *session, id string) (vault.Summary, int) {
	if id == "" {
		return vault.Summary{}, fail(e, ExitUsage, "name a recording id; 'assent list' shows them")
	}
	var found []vault.Summary
	for _, s := range ws.vault.List() {
		if s.ID == id {
			return s, -1
		}
		if strings.HasPrefix(s.ID, id) {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 1:
		return found[0], -1
	case 0:
		return vault.Summary{}, fail(e, ExitNotFound, "no recording %q; 'assent list' shows the recordings", id)
	}
	return vault.Summary{}, fail(e, ExitUsage, "%q matches %d recordings; give more of the id", id, len(found))
}

func cmdList(e *env, args []string) int {
	fs := flags(e, "list")
	if c := parse(fs, args); c >= 0 {
		return c
	}
	ws, code := open(e)
	if code >= 0 {
		return code
	}
	list := ws.vault.List()
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "No recordings yet. 'assent record' or the app makes one.")
		return ExitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED\tLENGTH\tSIZE\tSYNC\tTITLE\tPARTICIPANTS")
	for _, s := range list {
		var names []string
		for _, p := range s.Participants {
			names = append(names, p.Name)
		}
		sync := string(s.Sync)
		if s.Recovered {
			sync += " (recovered)"
		}
		if s.InProgress {
			sync += " (recording)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Started.Local().Format("2006-01-02 15:04"),
			clock(s.Duration.Seconds()), size(s.Size), sync, s.Title, strings.Join(names, ", "))
	}
	tw.Flush()
	return ExitOK
}

func cmdPlay(e *env, args []string) int {
	fs := flags(e, "play")
	if c := parse(fs, args); c >= 0 {
		return c
	}
	ws, s, code := openRecording(e, fs.Arg(0))
	if code >= 0 {
		return code
	}
	rc, err := ws.vault.OpenStream(s.ID)
	if err != nil {
		return fail(e, ExitFailed, "%v", err)
	}
	defer rc.Close()
	p, err := audio.NewPlayer(rc)
	if err != nil {
		return fail(e, ExitFailed, "%v", err)
	}
	defer p.Stop()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(e.stdout, "Playing \"%s\" (%s). Ctrl-C stops.\n", s.Title, clock(p.Duration().Seconds()))
	p.Play()
	if err := p.Wait(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fail(e, ExitFailed, "%v", err)
	}
	return ExitOK
}

func cmdExport(e *env, args []string) int {
	fs := flags(e, "export")
	out := fs.String("out", "", "directory to write into (created if needed)")
	if c := parse(fs, args); c >= 0 {
		return c
	}
	if *out == "" {
		return fail(e, ExitUsage, "say where to export with --out DIR")
	}
	ws, s, code := openRecording(e, fs.Arg(0))
	if code >= 0 {
		return code
	}
	paths, err := workspace.Export(ws.vault, s.ID, *out)
	if err != nil {
		return fail(e, ExitFailed, "%v", err)
	}
	for _, p := range paths {
		fmt.Fprintln(e.stdout, p)
	}
	fmt.Fprintln(e.stderr, "assent: the exported files are NOT encrypted; keep them safe or delete them when done")
	return ExitOK
}

func cmdDelete(e *env, args []string) int {
	fs := flags(e, "delete")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	if c := parse(fs, args); c >= 0 {
		return c
	}
	ws, s, code := openRecording(e, fs.Arg(0))
	if code >= 0 {
		return code
	}
	where := "from this computer"
	if s.Sync != vault.SyncLocal {
		where = "from this computer and from the organisation's server"
	}
	if !*yes {
		fmt.Fprintf(e.stdout, "Delete \"%s\" (%s) %s? This cannot be undone. Type yes: ", s.Title, s.ID, where)
		var ans string
		fmt.Fscanln(e.stdin, &ans)
		if strings.ToLower(strings.TrimSpace(ans)) != "yes" {
			fmt.Fprintln(e.stdout, "Not deleted.")
			return ExitOK
		}
	}
	if err := ws.vault.Delete(s.ID); err != nil {
		return fail(e, ExitFailed, "%v", err)
	}
	fmt.Fprintf(e.stdout, "Deleted %s %s.\n", s.ID, where)
	if s.Sync != vault.SyncLocal {
		fmt.Fprintln(e.stdout, "The server copy is deleted at the next sync ('assent sync').")
	}
	return ExitOK
}

func cmdKey(e *env, args []string) int {
	if len(args) == 2 && args[0] == "import" {
		f, err := os.Open(args[1])
		if err != nil {
			return fail(e, ExitFailed, "cannot read the key file: %v", err)
		}
		defer f.Close()
		if err := vault.RestoreKey(config.VaultDir(), nil, f); err != nil {
			var ke *vault.KeyringError
			if errors.As(err, &ke) {
				return fail(e, ExitKeyring, "%v", err)
			}
			return fail(e, ExitFailed, "%v", err)
		}
		fmt.Fprintln(e.stdout, "The device key is back in the keyring; recordings can be played and exported again.")
		return ExitOK
	}
	if len(args) == 0 || args[0] != "export" {
		return fail(e, ExitUsage, "usage: %s", commands["key"].usage)
	}
	fs := flags(e, "key")
	out := fs.String("out", "", "file to write (mode 0600); default: standard output")
	if c := parse(fs, args[1:]); c >= 0 {
		return c
	}
	ws, code := open(e)
	if code >= 0 {
		return code
	}
	if *out == "" {
		if err := ws.vault.KeyExport(e.stdout); err != nil {
			return fail(e, ExitKeyring, "%v", err)
		}
		return ExitOK
	}
	f, err := os.OpenFile(*out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fail(e, ExitFailed, "cannot create %s: %v (it must not exist yet)", *out, err)
	}
	if err := ws.vault.KeyExport(f); err != nil {
		f.Close()
		os.Remove(*out)
		return fail(e, ExitKeyring, "%v", err)
	}
	if err := f.Close(); err != nil {
		return fail(e, ExitFailed, "%v", err)
	}
	abs, _ := filepath.Abs(*out)
	fmt.Fprintf(e.stderr, "assent: wrote the device key to %s — anyone with this file can decrypt your recordings; store it offline\n", abs)
	return ExitOK
}
