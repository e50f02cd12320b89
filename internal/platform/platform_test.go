package platform_test

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/platform"
)

// TestPathsPerSystem: settings and vault go where each system keeps them.
// On Linux the result is the same as before this package existed (XDG).
func TestPathsPerSystem(t *testing.T) {
	base := tempDir(t)
	switch runtime.GOOS {
	case "windows":
		t.Setenv("APPDATA", filepath.Join(base, "Roaming"))
		t.Setenv("LOCALAPPDATA", filepath.Join(base, "Local"))
		eq(t, "ConfigDir", platform.ConfigDir(), filepath.Join(base, "Roaming", "Assent"))
		eq(t, "DataDir", platform.DataDir(), filepath.Join(base, "Local", "Assent"))
		// A stripped environment still lands in the user's profile.
		t.Setenv("APPDATA", "")
		t.Setenv("LOCALAPPDATA", "")
		t.Setenv("USERPROFILE", base)
		eq(t, "ConfigDir without APPDATA", platform.ConfigDir(), filepath.Join(base, "AppData", "Roaming", "Assent"))
		eq(t, "DataDir without LOCALAPPDATA", platform.DataDir(), filepath.Join(base, "AppData", "Local", "Assent"))
	case "darwin":
		t.Setenv("HOME", base)
		as := filepath.Join(base, "Library", "Application Support")
		eq(t, "ConfigDir", platform.ConfigDir(), filepath.Join(as, "Assent"))
		eq(t, "DataDir", platform.DataDir(), filepath.Join(as, "Assent", "Library"))
	default:
		t.Setenv("XDG_CONFIG_HOME", filepath.Join(base, "cfg"))
		t.Setenv("XDG_DATA_HOME", filepath.Join(base, "data"))
		eq(t, "ConfigDir", platform.ConfigDir(), filepath.Join(base, "cfg", "assent"))
		eq(t, "DataDir", platform.DataDir(), filepath.Join(base, "data", "assent"))
		t.Setenv("XDG_CONFIG_HOME", "")
		t.Setenv("XDG_DATA_HOME", "")
		t.Setenv("HOME", base)
		eq(t, "ConfigDir default", platform.ConfigDir(), filepath.Join(base, ".config", "assent"))
		eq(t, "DataDir default", platform.DataDir(), filepath.Join(base, ".local", "share", "assent"))
	}
}

// tempDir is t.TempDir, removed file by file with os.Remove: these tests
// also run under Wine 8 (make windows-smoke), where os.RemoveAll fails with
// "Invalid function" because Wine lacks FileDispositionInformationEx, which
// Go's RemoveAll uses on Windows (Windows 10 1607 and later have it).
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "assent-platform-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var paths []string
		filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
			paths = append(paths, p)
			return nil
		})
		for i := len(paths) - 1; i >= 0; i-- {
			if err := os.Remove(paths[i]); err != nil {
				t.Errorf("cleaning up: %v", err)
			}
		}
	})
	return dir
}

func eq(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// TestNothingLostOnCrash_RenameReplacesWhole: Rename puts the new file in
// place of an existing one in one step (the vault's seal and index writes
// rely on it), works for directories (delete moves a recording aside) and
// reports a missing source as not-exist; SyncDir accepts the directory
// afterwards and refuses what is not one.
func TestNothingLostOnCrash_RenameReplacesWhole(t *testing.T) {
	dir := tempDir(t)
	old, part := filepath.Join(dir, "index"), filepath.Join(dir, "index.part")
	write(t, old, "old contents, longer than the new ones")
	write(t, part, "new")
	if err := platform.Rename(part, old); err != nil {
		t.Fatalf("Rename over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(old); string(b) != "new" {
		t.Fatalf("after Rename the file holds %q, want %q", b, "new")
	}
	if _, err := os.Stat(part); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the .part file is still there after Rename: %v", err)
	}
	if err := platform.SyncDir(dir); err != nil {
		t.Fatalf("SyncDir after Rename: %v", err)
	}

	rec, gone := filepath.Join(dir, "rec"), filepath.Join(dir, "rec.deleting")
	if err := os.Mkdir(rec, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(rec, "seg-000001.age"), "x")
	if err := platform.Rename(rec, gone); err != nil {
		t.Fatalf("Rename of a directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(gone, "seg-000001.age")); err != nil {
		t.Fatalf("the directory's file did not move with it: %v", err)
	}

	err := platform.Rename(filepath.Join(dir, "missing"), filepath.Join(dir, "x"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Rename of a missing file = %v, want an error matching fs.ErrNotExist", err)
	}
	if err := platform.SyncDir(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("SyncDir of a missing directory = %v, want fs.ErrNotExist", err)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	// fsync on Unix, FlushFileBuffers on Windows.
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync (FlushFileBuffers on Windows): %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// lockHelperEnv makes the test binary a process that holds a lock.
const lockHelperEnv = "ASSENT_PLATFORM_LOCK_HELPER"

func TestMain(m *testing.M) {
	if path := os.Getenv(lockHelperEnv); path != "" {
		unlock, held, err := platform.TryLock(path)
		if err != nil || held {
			os.Stdout.WriteString("failed\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("locked\n")
		// Hold it until killed (or, as a safety net, for a minute).
		time.Sleep(time.Minute)
		unlock()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestNothingLostOnCrash_LockSeenAcrossProcessesAndDroppedOnKill: a lock
// taken by another process is seen as held (a live recorder's recording is
// never "recovered" under it), and the system drops it when that process is
// killed (a crashed recorder's recording is recovered at the next start).
func TestNothingLostOnCrash_LockSeenAcrossProcessesAndDroppedOnKill(t *testing.T) {
	path := filepath.Join(tempDir(t), ".lock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("the helper process did not take the lock: %q, %v", line, err)
	}

	unlock, held, err := platform.TryLock(path)
	if err != nil {
		t.Fatalf("TryLock while another process holds it: %v", err)
	}
	if !held || unlock != nil {
		t.Fatal("a lock held by another process was not reported as held")
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// The system drops the dead process's lock; on a busy machine give it
	// a moment (it is immediate on Linux and Windows alike).
	deadline := time.Now().Add(10 * time.Second)
	for {
		unlock, held, err = platform.TryLock(path)
		if err != nil {
			t.Fatalf("TryLock after the holder died: %v", err)
		}
		if !held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock of a killed process was never released")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Held by this process now: a second handle sees it held too.
	if _, held2, err := platform.TryLock(path); err != nil || !held2 {
		t.Fatalf("a second TryLock in the holder's own process: held=%v err=%v, want held", held2, err)
	}
	unlock()
	unlock2, held, err := platform.TryLock(path)
	if err != nil || held {
		t.Fatalf("TryLock after unlock: held=%v err=%v", held, err)
	}
	unlock2()
}
