package sync

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/assent-app/assent/internal/crashpoint"
)

// The outbox state file's crash point (issue 15): a process killed right
// after saving a recording's outbox state leaves a state the next start
// reads back whole, and no temporary file.

const outboxChildEnv = "ASSENT_OUTBOX_CRASH_CHILD"

type noLibrary struct{}

func (noLibrary) Unsynced() ([]Recording, error)      { return nil, nil }
func (noLibrary) MarkSynced(string) error             { return nil }
func (noLibrary) PendingDeletions() ([]string, error) { return nil, nil }
func (noLibrary) DeletionConfirmed(string) error      { return nil }

func TestOutboxCrashChild(t *testing.T) {
	dir := os.Getenv(outboxChildEnv)
	if dir == "" {
		return // only as the subprocess of TestNothingLostOnCrash_OutboxStateCrashPoint
	}
	c, err := New(Config{Server: "http://127.0.0.1:9", Token: "t", Library: noLibrary{}, OutboxDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	st := c.loadState("rec-1")
	st.Registered = "abc"
	st.Uploads[1] = upload{ID: "u1", SHA256: "def"}
	if err := c.saveState(st); err != nil {
		t.Fatal(err)
	}
	os.Exit(0) // not killed
}

func TestNothingLostOnCrash_OutboxStateCrashPoint(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOutboxCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), outboxChildEnv+"="+dir, crashpoint.EnvVar+"="+crashpoint.OutboxSave)
	out, err := cmd.CombinedOutput()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	killed := ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
	if runtime.GOOS == "windows" { // a crash point exits at once with 137
		killed = cmd.ProcessState.ExitCode() == 137
	}
	if !killed {
		t.Fatalf("child was not killed at %s: %v\n%s", crashpoint.OutboxSave, err, out)
	}
	c, err := New(Config{Server: "http://127.0.0.1:9", Token: "t", Library: noLibrary{}, OutboxDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	st := c.loadState("rec-1")
	if st.Registered != "abc" || st.Uploads[1].ID != "u1" {
		t.Fatalf("state after the crash: %+v", st)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".state-") {
			t.Errorf("temporary file %s left behind", filepath.Join(dir, e.Name()))
		}
	}
}
