//go:build linux

package cli

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/pulsetest"
	"github.com/assent-app/assent/internal/testenv"
)

// TestRealKilledCallOnlyRecordingLeavesNoStuckRouting: `assent record
// --call-input app` is killed with SIGKILL mid-call. Its routing stays on
// the sound server (so the rep still hears Zoom through the loopback) until
// the next recording starts; that one undoes it, and when it ends Zoom plays
// to the default output again with nothing of Assent's loaded.
func TestRealKilledCallOnlyRecordingLeavesNoStuckRouting(t *testing.T) {
	testenv.RequirePulse(t)
	testenv.RequireKeyring(t)
	srv := pulsetest.Start(t)
	srv.FakeCallApp(t, "Zoom", "zoom")
	quiet := filepath.Join(t.TempDir(), "quiet.wav")
	if b, err := exec.Command("sox", "-n", "-r", "48000", "-c", "1", "-b", "16", quiet, "synth", "90", "sine", "200", "vol", "0").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, b)
	}
	srv.PlayApp(t, "Zoom", "zoom", "", quiet)
	h := newCLIHome(t)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "record", "--call-input", "app", "--duration", "60s", "--participant", "Ana Host")
	cmd.Env = append(os.Environ(), "ASSENT_CLI_CHILD=1", "ASSENT_HOME="+h.vaultDir(), "ASSENT_CONFIG="+filepath.Join(h.dir, "config.json"))
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if _, err := in.Write([]byte("I agree\nyes\n")); err != nil {
		t.Fatal(err)
	}
	started := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "recording started") {
				started <- true
			}
		}
		close(started)
	}()
	if !<-started {
		_ = cmd.Wait()
		t.Fatalf("the recording did not start: %s", stderr.String())
	}
	where := srv.SinkOf(t, "Zoom")
	if len(where) != 1 || !strings.HasPrefix(where[0], "assent_call_") {
		t.Fatalf("while recording Zoom plays to %q, want Assent's call sink", where)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if mods := srv.Modules(t); !strings.Contains(mods, "module-loopback") || !strings.Contains(mods, where[0]) {
		t.Fatalf("after kill -9 the loopback that lets the rep hear Zoom is gone:\n%s", mods)
	}

	// The next recording undoes what the killed one left, and its own
	// routing when it ends.
	r := h.run("", "I agree\nyes\n", "record", "--call-input", "app", "--duration", "3s", "--participant", "Ana Host")
	if r.code != 0 || !strings.Contains(r.stderr, "Call audio: only Zoom's sound") {
		t.Fatalf("the next recording: exit %d, stderr %s", r.code, r.stderr)
	}
	if mods := srv.Modules(t); strings.Contains(mods, "assent_call_") {
		t.Fatalf("Assent's routing is still loaded:\n%s", mods)
	}
	if where := srv.SinkOf(t, "Zoom"); len(where) != 1 || where[0] != "speakers" {
		t.Fatalf("after the next recording Zoom plays to %q, want the default output \"speakers\"", where)
	}
}
