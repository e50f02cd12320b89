package vault

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/crashpoint"
)

const opChildEnv = "ASSENT_VAULT_OP_CHILD"

// TestVaultOpChild is the subprocess of TestNothingLostOnCrash_VaultCrashPoints:
// it opens the vault and runs one operation, which a crash point kills.
// It does nothing in a normal run.
func TestVaultOpChild(t *testing.T) {
	spec := os.Getenv(opChildEnv)
	if spec == "" {
		return
	}
	root, op, _ := strings.Cut(spec, "|")
	lines := strings.Split(os.Getenv(opChildEnv+"_KEYS"), "\n")
	store := newMemStore()
	for i := 0; i+1 < len(lines); i += 2 {
		store.Set(KeyringService, lines[i], lines[i+1])
	}
	v, _, err := Open(root, Options{Secrets: store})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	list := v.List()
	switch op {
	case "delete":
		err = v.Delete(list[0].ID)
	case "retention":
		_, err = v.Retention(RetentionPolicy{AfterSync: time.Hour}, time.Now())
	case "confirm":
		var ts []Tombstone
		ts, err = v.PendingDeletions()
		if err == nil {
			err = v.DeletionConfirmed(ts[0].ID)
		}
	}
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	os.Exit(0) // not killed: the crash point was not reached
}

// diedAtCrashPoint: killed by SIGKILL (Unix) or exit code 137 (Windows,
// where a crash point exits at once).
func diedAtCrashPoint(ps *os.ProcessState) bool {
	if runtime.GOOS == "windows" {
		return ps.ExitCode() == 137
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// TestNothingLostOnCrash_VaultCrashPoints kills a process at the crash
// points of delete, retention and tombstones (the steps the command line
// reaches only with a server), then opens the vault once more: it must have
// converged — the interrupted operation finished, no .deleting or .part
// left, the index matching the folders, nothing recovered a second time.
func TestNothingLostOnCrash_VaultCrashPoints(t *testing.T) {
	for _, c := range []struct {
		op, point string
		synced    int // recordings marked synced (hour-old) among 2
		tombstone bool
		check     func(t *testing.T, v *Vault, ids []string)
	}{
		{"delete", crashpoint.DeleteTombstone, 2, false, func(t *testing.T, v *Vault, ids []string) {
			// The user asked for the delete: the next start finishes it.
			if len(v.List()) != 1 {
				t.Errorf("after a crash at the tombstone: %d recordings", len(v.List()))
			}
			if ts, _ := v.PendingDeletions(); len(ts) != 1 {
				t.Errorf("tombstones %+v", ts)
			}
		}},
		{"retention", crashpoint.RetentionDeleted, 2, false, func(t *testing.T, v *Vault, ids []string) {
			if len(v.List()) != 1 {
				t.Errorf("after a crash between retention deletions: %d recordings", len(v.List()))
			}
			if ts, _ := v.PendingDeletions(); len(ts) != 0 {
				t.Errorf("retention left tombstones %+v", ts)
			}
		}},
		{"confirm", crashpoint.TombstoneCleared, 2, true, func(t *testing.T, v *Vault, ids []string) {
			if ts, _ := v.PendingDeletions(); len(ts) != 0 {
				t.Errorf("tombstones %+v", ts)
			}
		}},
	} {
		t.Run(c.point, func(t *testing.T) {
			root := t.TempDir()
			store := newMemStore()
			v, _ := openVault(t, root, store)
			var ids []string
			for i := 0; i < 2; i++ {
				w, err := v.Create(NewRecording{Title: "t", Record: []byte(namedRecord)})
				if err != nil {
					t.Fatal(err)
				}
				writeSegments(t, w, newFakeStream(uint64(10+i)), 1, 1, true)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if i < c.synced {
					if err := v.SetSyncState(w.ID(), SyncSynced, time.Now().Add(-2*time.Hour)); err != nil {
						t.Fatal(err)
					}
				}
				ids = append(ids, w.ID())
			}
			if c.tombstone {
				if err := v.Delete(ids[0]); err != nil {
					t.Fatal(err)
				}
			}
			var keys []string
			for k, s := range store.m {
				keys = append(keys, strings.TrimPrefix(k, KeyringService+"\x00"), s)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestVaultOpChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), opChildEnv+"="+root+"|"+c.op, opChildEnv+"_KEYS="+strings.Join(keys, "\n"),
				crashpoint.EnvVar+"="+c.point)
			out, err := cmd.CombinedOutput()
			if !diedAtCrashPoint(cmd.ProcessState) {
				t.Fatalf("child was not killed at %s: %v\n%s", c.point, err, out)
			}
			v2, rep, err := Open(root, Options{Secrets: store, Recover: func(id string, _ []byte, _ SealedAudio) ([]byte, error) {
				t.Errorf("recording %s offered for recovery", id)
				return nil, errors.New("no")
			}})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Recovered) != 0 || len(rep.Damaged) != 0 {
				t.Errorf("report %+v", rep)
			}
			ents, _ := os.ReadDir(filepath.Join(root, recordingsDir))
			if len(ents) != len(v2.List()) {
				t.Errorf("folders %v, index %+v", listDir(filepath.Join(root, recordingsDir)), v2.List())
			}
			filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
				if err == nil && (strings.HasSuffix(p, ".part") || strings.HasSuffix(p, deletingSuffix) || d.Name() == lockFile) {
					t.Errorf("%s left behind", p)
				}
				return nil
			})
			c.check(t, v2, ids)
		})
	}
}
