package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/assent-app/assent/internal/config"
	"github.com/assent-app/assent/internal/workspace"
)

func init() {
	commands["sync"] = command{"upload recordings and deletions to the organisation's server",
		"assent sync [--status] | assent sync --enrol URL --code CODE | assent sync [--watch]", cmdSync}
}

func cmdSync(e *env, args []string) int {
	fs := flags(e, "sync")
	status := fs.Bool("status", false, "show what is waiting to be synced and exit")
	enrol := fs.String("enrol", "", "enrol this device with the server at URL (needs --code)")
	code := fs.String("code", "", "the one-time enrolment code from your admin")
	watch := fs.Bool("watch", false, "keep syncing until Ctrl-C (default: one pass)")
	if c := parse(fs, args); c >= 0 {
		return c
	}
	ws, code2 := open(e)
	if code2 >= 0 {
		return code2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *enrol != "" {
		if *code == "" {
			return fail(e, ExitUsage, "enrolment needs the one-time code from your admin: --code CODE")
		}
		host, _ := os.Hostname()
		if err := workspace.Enrol(ctx, &http.Client{Timeout: 30 * time.Second}, ws.vault, *enrol, *code, host); err != nil {
			return fail(e, ExitFailed, "%v", err)
		}
		ws.cfg.ServerURL = *enrol
		if err := config.Save(config.Path(), ws.cfg); err != nil {
			return fail(e, ExitFailed, "enrolled, but the settings could not be saved: %v", err)
		}
		fmt.Fprintf(e.stdout, "Enrolled with %s. Recordings now sync to it.\n", *enrol)
		return ExitOK
	}
	if *status {
		ups, err := workspace.Library{V: ws.vault}.Unsynced()
		if err != nil {
			return fail(e, ExitFailed, "%v", err)
		}
		dels, err := workspace.Library{V: ws.vault}.PendingDeletions()
		if err != nil {
			return fail(e, ExitFailed, "%v", err)
		}
		server := ws.cfg.ServerURL
		if server == "" {
			server = "none (not enrolled)"
		}
		fmt.Fprintf(e.stdout, "server: %s\nrecordings waiting: %d\nserver deletions waiting: %d\n", server, len(ups), len(dels))
		return ExitOK
	}
	c, err := workspace.SyncClient(ws.cfg, ws.vault, filepath.Join(config.VaultDir(), "outbox"))
	if errors.Is(err, workspace.ErrNotEnrolled) {
		return fail(e, ExitUsage, "%v", err)
	}
	if err != nil {
		return fail(e, ExitFailed, "%v", err)
	}
	if *watch {
		if err := c.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			return fail(e, ExitFailed, "%v", err)
		}
		return ExitOK
	}
	err = c.SyncOnce(ctx)
	for _, p := range c.Snapshot() {
		fmt.Fprintf(e.stdout, "%s  %-11s %d/%d segments", p.ID, p.Phase, p.SegmentsDone, p.SegmentsTotal)
		if p.Err != "" {
			fmt.Fprintf(e.stdout, "  (%s)", p.Err)
		}
		fmt.Fprintln(e.stdout)
	}
	if err != nil {
		return fail(e, ExitFailed, "sync did not finish: %v — it resumes where it stopped next time", err)
	}
	fmt.Fprintln(e.stdout, "Everything is synced.")
	return ExitOK
}
