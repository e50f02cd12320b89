package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/config"
	"github.com/assent-app/assent/internal/jointest"
	"github.com/assent-app/assent/internal/testenv"
	"github.com/assent-app/assent/internal/workspace"
)

// syncBuf is a bytes.Buffer safe for the command's and the test's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// useFreshCLIHome points the CLI at a fresh config and vault (keyring: the real
// Secret Service when the environment has one, else go-keyring's mock).
func useFreshCLIHome(t *testing.T) {
	t.Helper()
	if os.Getenv("ASSENT_TEST_KEYRING") != "1" {
		keyring.MockInit()
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte(`{"org":{"controller":"Acme BV","contact":"privacy@acme.example"},"chime":false}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ASSENT_CONFIG", cfg)
	t.Setenv("ASSENT_HOME", filepath.Join(dir, "vault"))
}

func waitOut(t *testing.T, out *syncBuf, want string, from int) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := out.String()
		if i := strings.Index(s[from:], want); i >= 0 {
			return from + i + len(want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q; output:\n%s", want, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNoConsentNoAudio_CLIJoinGatesAtOnce is the hard rule of a late joiner,
// in the command line, against the real sound server: a continuous tone
// plays into the call, Cem joins mid-call ('j'), a marker tone plays while
// he reads the German notice, he agrees, the marker plays again. The
// decoded recording and its record show that no frame was admitted between
// his join and his consent (and that the marker is heard once he agreed).
func TestNoConsentNoAudio_CLIJoinGatesAtOnce(t *testing.T) {
	testenv.RequirePulse(t)
	useFreshCLIHome(t)
	dir := t.TempDir()
	tone := jointest.WriteTone(t, dir, "tone.wav", jointest.ToneHz, 40, 0.3)
	marker := jointest.WriteTone(t, dir, "marker.wav", jointest.MarkerHz, 1.5, 0.3)
	sink := jointest.PrivateSink(t)
	jointest.PlayBackground(t, sink, tone)

	inR, inW := io.Pipe()
	defer inW.Close()
	out, errOut := &syncBuf{}, &syncBuf{}
	code := make(chan int, 1)
	go func() {
		// Capture exactly what the private sink plays, alone (mono): the
		// default input and the default output's monitor are not it.
		code <- Main([]string{"record", "--title", "Join gate", "--no-chime",
			"--input", jointest.Source(sink), "--call-input", "none",
			"--participant", "Ana Host <ana@acme.example>", "--participant", "Bob Buyer [nl]"}, inR, out, errOut)
	}()
	send := func(s string) {
		if _, err := io.WriteString(inW, s+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	at := waitOut(t, out, "Type \"I agree\"", 0)
	send("I agree")
	send("yes")
	at = waitOut(t, out, "Typ \"ik ga akkoord\"", at)
	send("ik ga akkoord")
	send("ja")
	at = waitOut(t, out, "recording started", at)
	time.Sleep(2500 * time.Millisecond) // audio flows (the first buffer can take 1.9 s)

	send("j Cem Joiner <cem@example.de> [de]")
	at = waitOut(t, out, "Cem Joiner joined — recording paused", at)
	// He sees the whole notice, in German, as plain text, and is asked in German.
	ask := waitOut(t, out, "Sind Sie damit einverstanden", at)
	shown := out.String()[at:ask]
	if !strings.Contains(shown, "Hinweis zur Aufnahme (de") || strings.Contains(shown, "**") || !strings.Contains(shown, "Acme BV") {
		t.Fatalf("the joiner was not shown the German notice as plain text:\n%s", shown)
	}
	at = ask
	jointest.Play(t, sink, marker)     // said while he has not agreed
	time.Sleep(800 * time.Millisecond) // the last of it has passed the gate's input
	send("ich stimme zu")
	send("ja")
	at = waitOut(t, out, "recording resumed", at)
	time.Sleep(1500 * time.Millisecond)
	jointest.Play(t, sink, marker) // said after he agreed: recorded
	time.Sleep(1500 * time.Millisecond)
	send("s")
	var rc int
	select {
	case rc = <-code:
	case <-time.After(30 * time.Second):
		t.Fatal("assent record did not end after 's'")
	}
	if rc != ExitOK {
		t.Fatalf("exit %d; stderr: %s\nstdout: %s", rc, errOut, out)
	}
	m := regexp.MustCompile(`(?m)^recording ([0-9a-z]+)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no recording id in:\n%s", out)
	}
	v, _, err := workspace.OpenVault(config.VaultDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	record, err := v.Record(m[1])
	if err != nil {
		t.Fatal(err)
	}
	rd, err := v.OpenStream(m[1])
	if err != nil {
		t.Fatal(err)
	}
	stream, err := io.ReadAll(rd)
	rd.Close()
	if err != nil {
		t.Fatal(err)
	}
	res := jointest.Check(t, record, v.SigningPublicKey(), stream, "Cem Joiner")
	t.Logf("CLI join gate: %s", res)

	// The export holds every notice text the record cites: the SHA-256 of
	// each file is the sha256 in the record.
	exp := t.TempDir()
	if _, err := workspace.Export(v, m[1], exp); err != nil {
		t.Fatal(err)
	}
	rec, err := consent.Parse(record)
	if err != nil {
		t.Fatal(err)
	}
	// They are the texts stored with the recording when the call started.
	stored, err := v.Notices(m[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, nt := range rec.Notice.Texts {
		if stored[nt.SHA256] == nil {
			t.Fatalf("the %s notice text was not stored with the recording", nt.Lang)
		}
		b, err := os.ReadFile(filepath.Join(exp, "notice-"+nt.SHA256+".md"))
		if err != nil {
			t.Fatalf("the export lacks the %s notice: %v", nt.Lang, err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != nt.SHA256 {
			t.Fatalf("the exported %s notice does not hash to the record's sha256", nt.Lang)
		}
		if string(b) != string(stored[nt.SHA256]) {
			t.Fatalf("the exported %s notice is not the stored text", nt.Lang)
		}
	}
}
