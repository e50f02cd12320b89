package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/crashpoint"
	"github.com/assent-app/assent/internal/testenv"
	"github.com/assent-app/assent/vault"
)

// TestMain lets the crash tests run this test binary as the real `assent`
// command line: with ASSENT_CLI_CHILD=1 it is exactly main.go (cli.Main on
// the process's arguments), so ASSENT_CRASH_AT kills the real CLI code.
func TestMain(m *testing.M) {
	if os.Getenv("ASSENT_CLI_CHILD") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// cliHome is one private vault + settings for child runs of the CLI.
type cliHome struct {
	t   *testing.T
	dir string
}

func newCLIHome(t *testing.T) *cliHome {
	t.Helper()
	d := t.TempDir()
	cfg := `{"org":{"controller":"Acme Sales BV","contact":"privacy@acme.example"},"chime":false}`
	if err := os.WriteFile(filepath.Join(d, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cliHome{t: t, dir: d}
}

func (h *cliHome) vaultDir() string { return filepath.Join(h.dir, "vault") }

type childResult struct {
	stdout, stderr string
	killed         bool // died by SIGKILL (a crash point)
	code           int
}

// run runs the CLI once. crashAt arms a crash point ("" for none). answers
// are typed on stdin, which stays open until the child exits (a closed
// stdin ends a recording).
func (h *cliHome) run(crashAt, answers string, args ...string) childResult {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	env := []string{"ASSENT_CLI_CHILD=1", "ASSENT_HOME=" + h.vaultDir(), "ASSENT_CONFIG=" + filepath.Join(h.dir, "config.json")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, crashpoint.EnvVar+"=") && !strings.HasPrefix(kv, "ASSENT_HOME=") && !strings.HasPrefix(kv, "ASSENT_CONFIG=") {
			env = append(env, kv)
		}
	}
	if crashAt != "" {
		env = append(env, crashpoint.EnvVar+"="+crashAt)
	}
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	in, err := cmd.StdinPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	io.WriteString(in, answers)
	err = cmd.Wait()
	in.Close()
	r := childResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			r.killed = true
		}
		if runtime.GOOS == "windows" && ee.ExitCode() == 137 { // a crash point exits at once there
			r.killed = true
		}
		r.code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("%v: %v", args, err)
	}
	if ctx.Err() != nil {
		h.t.Fatalf("assent %s did not finish in time; stderr: %s", args[0], r.stderr)
	}
	return r
}

// record makes a recording of the given length with one participant who
// agrees on screen.
func (h *cliHome) record(crashAt string, dur time.Duration) childResult {
	return h.run(crashAt, "I agree\nyes\n", "record", "--title", "Crash test", "--duration", dur.String(), "--no-chime",
		"--participant", "Zora Crashpoint <zora@example.com>")
}

var idLine = regexp.MustCompile(`(?m)^recording ([0-9a-z]{26})$`)

// converged checks the vault after a crash and one more start, as issue 15
// defines it, and returns the recordings it holds.
func (h *cliHome) converged(label string) []vault.Summary {
	t := h.t
	t.Helper()
	root := h.vaultDir()
	// No .part files, no locks, no half-deleted recordings.
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		switch {
		case strings.HasSuffix(name, ".part"):
			t.Errorf("%s: %s left behind", label, p)
		case name == "writer.lock":
			t.Errorf("%s: %s left behind", label, p)
		case strings.HasSuffix(name, ".deleting"):
			t.Errorf("%s: %s left behind", label, p)
		}
		return nil
	})
	// The next start does not repeat the recovery, and the index matches
	// the folders.
	v, rep, err := vault.Open(root, vault.Options{Recover: func(id string, _ []byte, _ vault.SealedAudio) ([]byte, error) {
		t.Errorf("%s: recording %s was recovered again", label, id)
		return nil, errors.New("test: no second recovery")
	}})
	if err != nil {
		t.Fatalf("%s: reopening: %v", label, err)
	}
	if len(rep.Recovered) != 0 || rep.IndexRebuilt || len(rep.Damaged) != 0 {
		t.Errorf("%s: the next start still had work: recovered %+v, index rebuilt %v (%v), damaged %+v", label, rep.Recovered, rep.IndexRebuilt, rep.IndexProblem, rep.Damaged)
	}
	list := v.List()
	var listed, dirs []string
	for _, s := range list {
		listed = append(listed, s.ID)
	}
	ents, _ := os.ReadDir(filepath.Join(root, "recordings"))
	for _, e := range ents {
		dirs = append(dirs, e.Name())
	}
	sort.Strings(listed)
	sort.Strings(dirs)
	if strings.Join(listed, ",") != strings.Join(dirs, ",") {
		t.Errorf("%s: the index lists %v, the folders are %v", label, listed, dirs)
	}
	// Every recording left is complete: closed, no 0:00 entry, its
	// participants are those of its consent record, and `assent verify`
	// (record + audio, decoded) passes.
	for _, s := range list {
		if s.InProgress || s.Duration <= 0 || s.Segments == 0 {
			t.Errorf("%s: recording %s left as %+v", label, s.ID, s)
		}
		if len(s.Participants) != 1 || s.Participants[0].Email != "zora@example.com" {
			t.Errorf("%s: recording %s lists participants %+v", label, s.ID, s.Participants)
		}
		r := h.run("", "", "verify", s.ID)
		if r.code != 0 || !strings.Contains(r.stdout, "✓ audio:") {
			t.Errorf("%s: assent verify %s: exit %d\n%s%s", label, s.ID, r.code, r.stdout, r.stderr)
		}
	}
	return list
}

// scenario is one crash followed by starts until convergence.
type scenario struct {
	name string
	run  func(h *cliHome) (crashed bool)
	// wantKept: a recording must survive (audio was sealed and bound
	// before the crash point).
	wantKept bool
}

// TestNothingLostOnCrash_EveryCrashPointConverges kills the real CLI at
// every named crash point (internal/crashpoint), then starts it once more,
// and checks that the vault converged: each recording fully recovered and
// verified (record, hashes, granules, decoded audio) or removed with
// nothing about its people; no .part files or locks; index = folders; the
// following start recovers nothing. Recovery itself is killed at each of
// its steps, and a recording is killed twice in a row.
func TestNothingLostOnCrash_EveryCrashPointConverges(t *testing.T) {
	testenv.RequirePulse(t)
	testenv.RequireKeyring(t)
	// Capture's first buffer arrives 0.3–1.9 s after the start (TESTING.md):
	// 8 s leaves 5.5–7.5 s admitted, so segment 1 is sealed at 4 s of
	// audio and segment 2 at the stop, whatever the machine's load.
	const dur = 8 * time.Second

	crashRecord := func(point string) func(h *cliHome) bool {
		return func(h *cliHome) bool {
			r := h.record(point, dur)
			if !r.killed {
				h.t.Logf("record with %s: not killed (exit %d): %s", point, r.code, lastLine(r.stderr))
			}
			return r.killed
		}
	}
	var scenarios []scenario
	// Record saves: 1 empty, 2 participant added (names), 3 recording
	// requested, 4 notice shown, 5 age, 6 consent given + started,
	// 7 segment 1 sealed, 8 stopped, 9 segment 2 sealed.
	for _, p := range []struct {
		point string
		kept  bool
	}{
		{crashpoint.CreateDir, false}, {crashpoint.CreateMeta, false}, {crashpoint.CreateIndex, false},
		{crashpoint.NoticeStore + ":1", false},
		{crashpoint.RecordSave + ":1", false}, {crashpoint.RecordSave + ":2", false}, {crashpoint.RecordSave + ":6", false},
		{crashpoint.RecordSave + ":7", true}, {crashpoint.RecordSave + ":8", true}, {crashpoint.RecordSave + ":9", true},
		{crashpoint.SegmentWrite + ":1", false}, {crashpoint.SegmentWrite + ":3", false},
		{crashpoint.SegmentFsync + ":1", false}, {crashpoint.SegmentRename + ":1", true}, {crashpoint.SegmentDirSync + ":1", true},
		{crashpoint.SegmentFsync + ":2", true}, {crashpoint.SegmentRename + ":2", true}, {crashpoint.SegmentDirSync + ":2", true},
		{crashpoint.MetaWrite + ":1", false}, {crashpoint.MetaWrite + ":2", false}, {crashpoint.MetaWrite + ":3", true},
		{crashpoint.MetaWrite + ":4", true}, {crashpoint.MetaWrite + ":5", true},
		{crashpoint.IndexWrite + ":1", false}, {crashpoint.IndexWrite + ":2", false}, {crashpoint.IndexWrite + ":3", false},
		{crashpoint.IndexWrite + ":4", true},
	} {
		scenarios = append(scenarios, scenario{name: "record/" + p.point, run: crashRecord(p.point), wantKept: p.kept})
	}
	// Recovery killed at each of its steps, then started once more.
	for _, p := range []struct{ base, recover string }{
		{crashpoint.SegmentFsync + ":2", crashpoint.RecoverParts},
		{crashpoint.SegmentRename + ":2", crashpoint.RecoverRecord},
		{crashpoint.SegmentFsync + ":2", crashpoint.RecoverMeta},
		{crashpoint.SegmentFsync + ":2", crashpoint.RecoverUnlock},
		{crashpoint.SegmentFsync + ":2", crashpoint.IndexWrite},
		{crashpoint.RecordSave + ":6", crashpoint.RecoverRemove},
	} {
		p := p
		scenarios = append(scenarios, scenario{name: "recover/" + p.base + "/" + p.recover, wantKept: p.recover != crashpoint.RecoverRemove,
			run: func(h *cliHome) bool {
				if r := h.record(p.base, dur); !r.killed {
					h.t.Fatalf("record was not killed at %s", p.base)
				}
				r := h.run(p.recover, "", "list")
				if !r.killed {
					h.t.Errorf("recovery was not killed at %s (exit %d): %s", p.recover, r.code, lastLine(r.stderr))
				}
				return true
			}})
	}
	// Killed twice in a row without a recovery in between: the second
	// recording is killed while the first is still left in progress.
	scenarios = append(scenarios, scenario{name: "record-twice", wantKept: true, run: func(h *cliHome) bool {
		a := h.record(crashpoint.SegmentFsync+":2", dur)
		b := h.record(crashpoint.SegmentRename+":1", dur) // its start recovers the first
		return a.killed && b.killed
	}})
	// Delete, killed at each step.
	for _, point := range []string{crashpoint.DeleteRename, crashpoint.DeleteIndex, crashpoint.DeleteRemoved} {
		point := point
		scenarios = append(scenarios, scenario{name: "delete/" + point, run: func(h *cliHome) bool {
			r := h.record("", 4*time.Second)
			m := idLine.FindStringSubmatch(r.stdout)
			if r.code != 0 || m == nil {
				h.t.Fatalf("record: exit %d: %s", r.code, r.stderr)
			}
			d := h.run(point, "", "delete", "--yes", m[1])
			return d.killed
		}})
	}

	sem := make(chan struct{}, 5) // the children wait on real-time audio, not on the CPU
	var mu sync.Mutex
	summary := map[string]string{}
	t.Run("points", func(t *testing.T) {
		for _, sc := range scenarios {
			sc := sc
			t.Run(strings.ReplaceAll(sc.name, ":", "#"), func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				h := newCLIHome(t)
				if !sc.run(h) {
					t.Fatalf("the crash point was never reached")
				}
				// Once more: a plain start finishes the job.
				if r := h.run("", "", "list"); r.code != 0 {
					t.Fatalf("the start after the crash failed: exit %d: %s", r.code, r.stderr)
				}
				list := h.converged(sc.name)
				if sc.wantKept && len(list) == 0 {
					t.Errorf("sealed, bound audio was lost: no recording kept")
				}
				mu.Lock()
				summary[sc.name] = fmt.Sprintf("%d kept", len(list))
				mu.Unlock()
			})
		}
	})
	covered := map[string]bool{}
	for _, sc := range scenarios {
		for _, part := range strings.Split(sc.name, "/")[1:] {
			name, _, _ := strings.Cut(part, ":")
			covered[name] = true
		}
	}
	for _, p := range crashpoint.All {
		if !covered[p] && !otherCrashPoints[p] {
			t.Errorf("crash point %s is not exercised by any scenario", p)
		}
	}
	t.Logf("scenarios: %v", summary)
}

// otherCrashPoints are the steps the command line reaches only with a
// server: vault.TestNothingLostOnCrash_VaultCrashPoints (tombstone,
// retention, confirmed tombstone) and sync.TestNothingLostOnCrash_OutboxStateCrashPoint
// kill a real process at them.
var otherCrashPoints = map[string]bool{
	crashpoint.DeleteTombstone: true, crashpoint.RetentionDeleted: true, crashpoint.TombstoneCleared: true,
	crashpoint.OutboxSave: true,
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// `assent verify` checks the local audio against the record's
// SegmentSealed events: an intact recording passes; a segment file that is
// not the one the record lists (swapped in from another recording of the
// same device, so it still decrypts) fails with a plain message.
func TestEveryStoredSecondProvable_VerifyChecksTheAudio(t *testing.T) {
	testenv.RequirePulse(t)
	testenv.RequireKeyring(t)
	t.Parallel()
	h := newCLIHome(t)
	var ids []string
	for i := 0; i < 2; i++ {
		r := h.record("", 6*time.Second)
		m := idLine.FindStringSubmatch(r.stdout)
		if r.code != 0 || m == nil {
			t.Fatalf("record: exit %d: %s", r.code, r.stderr)
		}
		ids = append(ids, m[1])
	}
	r := h.run("", "", "verify", ids[0])
	if r.code != 0 || !strings.Contains(r.stdout, "✓ audio:") {
		t.Fatalf("intact recording: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	seg := func(id string) string { return filepath.Join(h.vaultDir(), "recordings", id, "seg-000001.age") }
	other, err := os.ReadFile(seg(ids[1]))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(seg(ids[0]), other, 0o600); err != nil {
		t.Fatal(err)
	}
	r = h.run("", "", "verify", ids[0])
	if r.code != ExitFailed || !strings.Contains(r.stderr, "does NOT match its consent record") || !strings.Contains(r.stderr, "segment 1") {
		t.Fatalf("swapped segment: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
