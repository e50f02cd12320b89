package sync_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	assentsync "github.com/assent-app/assent/sync"
	"github.com/assent-app/assent/sync/server"
)

// assentdProc is a real assentd binary run as a subprocess.
type assentdProc struct {
	cmd  *exec.Cmd
	addr string
}

func buildAssentd(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "assentd")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/assent-app/assent/cmd/assentd")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build assentd with CGO_ENABLED=0: %v\n%s", err, out)
	}
	return bin
}

func startAssentd(t *testing.T, bin, data, addr string) *assentdProc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-data", data, "-addr", addr)
	cmd.Env = append(os.Environ(), "ASSENTD_ADMIN_TOKEN="+adminToken)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on http://") {
		cmd.Process.Kill()
		t.Fatalf("assentd did not start: %q %v", line, err)
	}
	p := &assentdProc{cmd: cmd, addr: strings.TrimSpace(strings.TrimPrefix(line, "listening on http://"))}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	return p
}

// TestNothingLostOnCrash_KillDashNineAssentd kills a real assentd process
// with SIGKILL in the middle of an upload, starts it again on the same data
// directory and lets the client finish: every segment arrives verified and
// at most one segment's worth of bytes is sent twice.
func TestNothingLostOnCrash_KillDashNineAssentd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the assentd binary")
	}
	bin := buildAssentd(t)
	data := t.TempDir()
	p := startAssentd(t, bin, data, "127.0.0.1:0")

	// The organisation's policy (the notice newCall uses), then enrol with a
	// code made by the CLI, as an admin would.
	if out, err := exec.Command(bin, "policy", "set", "-data", data, "-notice-version", "1", "-controller", "Acme", "-contact", "privacy@acme.example").CombinedOutput(); err != nil {
		t.Fatalf("assentd policy set: %v %s", err, out)
	}
	out, err := exec.Command(bin, "enroll", "-data", data).Output()
	if err != nil {
		t.Fatalf("assentd enroll: %v", err)
	}
	ts := &testServer{t: t, addr: p.addr}
	key := newKey()
	e, err := assentsync.Enrol(t.Context(), nil, ts.url(), strings.TrimSpace(string(out)), "laptop", key.Public().(edPub), "age1devicerecipient00000000000000000000000000000000000000")
	if err != nil {
		t.Fatal(err)
	}
	lib := newDirLibrary(t)
	const segSize, n = 256 << 10, 8
	call := newCall(t, lib, key, "rec-k", segSize, "ann@example.com")
	for i := 0; i < n; i++ {
		call.seal()
	}
	call.stop()
	c := newClient(t, ts, e.Token, lib, t.TempDir(), 1<<20) // ~2 s of upload
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitFor(t, 30*time.Second, "a third of the bytes sent", func() bool { return c.BytesSent() > segSize*n/3+segSize/3 })
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	time.Sleep(300 * time.Millisecond) // the client meets a dead server and backs off
	p = startAssentd(t, bin, data, p.addr)
	waitFor(t, 60*time.Second, "the recording synced after the restart", func() bool { return lib.synced("rec-k") })
	cancel()
	<-done
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()

	// Check the server's state on disk with the store itself.
	st, err := server.OpenSQLite(filepath.Join(data, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	segs, _ := st.Segments(context.Background(), "rec-k")
	if len(segs) != n {
		t.Fatalf("server holds %d segments after kill -9, want %d", len(segs), n)
	}
	for _, s := range segs {
		b, err := os.ReadFile(filepath.Join(data, "objects", "recordings", "rec-k", "seg-"+pad(s.Index)+".age"))
		if err != nil || sha(b) != s.SHA256 || s.SHA256 != fileSum(t, filepath.Join(lib.recDir("rec-k"), "seg-"+pad(s.Index)+".age")) {
			t.Fatalf("segment %d not intact after kill -9: %v", s.Index, err)
		}
	}
	over := c.BytesSent() - segSize*n
	t.Logf("kill -9 mid-upload: %d bytes re-sent (one segment = %d)", over, segSize)
	if over > segSize {
		t.Fatalf("re-sent %d bytes after kill -9, more than one segment", over)
	}
}
