package vault

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The keyring boundary: no D-Bus autolaunch, every call bounded, typed
// errors. Each real case runs Open in a child process with the environment
// of the case, because the D-Bus library keeps one session connection per
// process.

const busChildEnv = "ASSENT_VAULT_BUS_CHILD"

// TestKeyringBusChild is the subprocess of the tests below.
func TestKeyringBusChild(t *testing.T) {
	root := os.Getenv(busChildEnv)
	if root == "" {
		return // only runs as a subprocess
	}
	t0 := time.Now()
	_, _, err := Open(root, Options{})
	var ke *KeyringError
	if errors.As(err, &ke) {
		fmt.Printf("PROBLEM %d after %.1fs\n%s\n", ke.Problem, time.Since(t0).Seconds(), err)
	} else {
		fmt.Printf("OTHER %v\n", err)
	}
}

// childEnv is the environment without any D-Bus session, display or user
// directories, plus a marker that every process the child starts inherits.
func childEnv(t *testing.T, marker string, extra ...string) []string {
	home := t.TempDir()
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") && !strings.HasPrefix(kv, "HOME=") &&
			!strings.HasPrefix(kv, "XDG_") && !strings.HasPrefix(kv, "DISPLAY=") {
			env = append(env, kv)
		}
	}
	rt := filepath.Join(home, "run")
	os.MkdirAll(rt, 0o700)
	env = append(env, "HOME="+home, "XDG_RUNTIME_DIR="+rt, "ASSENT_TEST_MARKER="+marker)
	return append(env, extra...)
}

// leftovers lists the processes still running with marker in their
// environment (a dbus-daemon started by dbus-launch would be one).
func leftovers(marker string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(env, []byte("ASSENT_TEST_MARKER="+marker+"\x00")) {
			continue
		}
		cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		out = append(out, e.Name()+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
	}
	return out
}

// killLeftovers stops what a failing case left behind (only processes
// carrying this test's marker).
func killLeftovers(marker string) {
	for _, l := range leftovers(marker) {
		var pid int
		if _, err := fmt.Sscan(l, &pid); err == nil && pid > 1 {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	}
}

func countProcs(name string) int {
	out, _ := exec.Command("pgrep", "-c", "-x", name).Output()
	n := 0
	fmt.Sscan(string(out), &n)
	return n
}

func runBusChild(t *testing.T, env []string) string {
	t.Helper()
	root := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKeyringBusChild$", "-test.count=1")
	cmd.Env = append(env, busChildEnv+"="+root)
	cmd.WaitDelay = 5 * time.Second
	out, _ := cmd.CombinedOutput()
	mustNotExist(t, root+"/"+configFile)
	return string(out)
}

// Without a session bus (Xvfb only, no DBUS_SESSION_BUS_ADDRESS): the vault
// refuses at once with ErrNoSessionBus, dbus-launch is never run and no
// process is left behind — before this guard each start left a dbus-daemon
// running and waited 120 s for a keyring that never answered.
func TestBadInputGetsClearError_NoSessionBusNoAutolaunch(t *testing.T) {
	if _, err := os.Stat(fmt.Sprintf("/run/user/%d/bus", os.Getuid())); err == nil {
		t.Skip("this user has a systemd session bus socket; the no-bus case cannot be made here")
	}
	if _, err := exec.LookPath("dbus-launch"); err != nil {
		t.Fatalf("dbus-launch must be installed for this test to mean something (it is what must not run): %v", err)
	}
	marker := fmt.Sprintf("nobus-%d-%d", os.Getpid(), time.Now().UnixNano())
	daemons, keyrings := countProcs("dbus-daemon"), countProcs("gnome-keyring-d")
	s := runBusChild(t, childEnv(t, marker))
	if l := leftovers(marker); len(l) > 0 {
		killLeftovers(marker)
		t.Errorf("processes left behind by a keyring call without a bus: %q", l)
	}
	if !strings.Contains(s, fmt.Sprintf("PROBLEM %d", KeyringNoBus)) {
		t.Fatalf("child output:\n%s", s)
	}
	if !strings.Contains(s, "no desktop session bus is running") || strings.Contains(s, "dbus-launch") {
		t.Errorf("message is not the plain no-bus sentence:\n%s", s)
	}
	t.Logf("dbus-daemon %d→%d, gnome-keyring-daemon %d→%d (machine-wide; other tests may run in parallel)",
		daemons, countProcs("dbus-daemon"), keyrings, countProcs("gnome-keyring-d"))
}

// startBus starts a private dbus-daemon that offers no services (no service
// directories, so nothing can be activated) and returns its address.
func startBus(t *testing.T, marker string) string {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Fatalf("dbus-daemon is needed (apt-get install dbus): %v", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "bus.conf")
	os.WriteFile(conf, []byte(BareBusConfig(filepath.Join(dir, "bus"))), 0o600)
	cmd := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--print-address")
	cmd.Env = append(os.Environ(), "ASSENT_TEST_MARKER="+marker)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		addr <- strings.TrimSpace(line)
	}()
	select {
	case a := <-addr:
		if a == "" {
			t.Fatal("dbus-daemon printed no address")
		}
		return a
	case <-time.After(20 * time.Second):
		t.Fatal("dbus-daemon did not start")
	}
	return ""
}

// BareBusConfig is a session bus configuration listening on socket with no
// service directories: a bus without a Secret Service.
func BareBusConfig(socket string) string {
	return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=` + socket + `</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`
}

// A session bus without a Secret Service: the plain "no keyring" sentence,
// quickly (the call is bounded), nothing left behind.
func TestBadInputGetsClearError_BusWithoutSecretService(t *testing.T) {
	marker := fmt.Sprintf("nosvc-%d-%d", os.Getpid(), time.Now().UnixNano())
	addr := startBus(t, marker+"-bus")
	s := runBusChild(t, childEnv(t, marker, "DBUS_SESSION_BUS_ADDRESS="+addr))
	if !strings.Contains(s, fmt.Sprintf("PROBLEM %d", KeyringUnavailable)) {
		t.Fatalf("child output:\n%s", s)
	}
	if !strings.Contains(s, "no system keyring (Secret Service) is running") || strings.Contains(s, "freedesktop") {
		t.Errorf("message is not the plain no-keyring sentence:\n%s", s)
	}
	if l := leftovers(marker); len(l) > 0 {
		killLeftovers(marker)
		t.Errorf("processes left behind: %q", l)
	}
}

// SessionBus reads the address: a unix socket that does not exist is no bus,
// "autolaunch:" is never taken as one.
func TestSessionBusAddress(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		addr string
		ok   bool
	}{
		{"unix:path=" + dir + "/nope", false},
		{"autolaunch:", false},
		{"unix:path=" + dir, true}, // exists
		{"unix:path=" + dir + "/nope;unix:abstract=/tmp/dbus-x", true},
		{"unix:path=" + dir + ",guid=abc", true},
	}
	for _, c := range cases {
		t.Setenv("DBUS_SESSION_BUS_ADDRESS", c.addr)
		err := SessionBus()
		if (err == nil) != c.ok {
			t.Errorf("SessionBus with %q: %v, want ok=%v", c.addr, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrNoSessionBus) {
			t.Errorf("%q: %v is not ErrNoSessionBus", c.addr, err)
		}
	}
}

// blockingStore answers only when released, like a Secret Service that
// shows an unlock prompt or waits out a D-Bus activation timeout.
type blockingStore struct {
	release chan struct{}
	mu      sync.Mutex
	calls   int
}

func (b *blockingStore) Get(s, u string) (string, error) {
	b.mu.Lock()
	b.calls++
	b.mu.Unlock()
	<-b.release
	return "secret", nil
}
func (b *blockingStore) Set(s, u, p string) error { _, err := b.Get(s, u); return err }
func (b *blockingStore) Delete(s, u string) error { _, err := b.Get(s, u); return err }

// A keyring that does not answer never blocks the caller past the timeout;
// only one abandoned call is outstanding at a time; once the keyring
// answers, calls work again (the user unlocked it and chose Check again).
func TestKeyringCallsAreBounded(t *testing.T) {
	bs := &blockingStore{release: make(chan struct{})}
	st := &timedStore{inner: bs, timeout: 200 * time.Millisecond}
	for i := 0; i < 3; i++ {
		done := make(chan error, 1)
		go func() { _, err := st.Get(KeyringService, "x"); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrKeyringTimeout) {
				t.Fatalf("call %d: %v, want ErrKeyringTimeout", i, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("call %d blocked past its timeout", i)
		}
	}
	bs.mu.Lock()
	calls := bs.calls
	bs.mu.Unlock()
	if calls != 1 {
		t.Errorf("%d calls reached the stuck keyring; want 1 (later ones wait for the slot)", calls)
	}
	close(bs.release)
	st.timeout = 30 * time.Second
	if got, err := st.Get(KeyringService, "x"); err != nil || got != "secret" {
		t.Fatalf("after the keyring answered: %q %v", got, err)
	}
	ke := classifyKeyring(ErrKeyringTimeout, "k")
	if ke.Problem != KeyringTimeout || !errors.Is(ke, ErrKeyringTimeout) || !strings.Contains(ke.Error(), "did not answer in time") {
		t.Errorf("timeout classified as %+v: %v", ke, ke)
	}
}
