package remote

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/testenv"
)

// RequireChromium returns the path of a Chromium to drive (ASSENT_CHROMIUM,
// else chromium or chromium-browser on PATH). Outside CI a missing browser
// skips the test; with CI=true it fails it (internal/testenv's rule).
func RequireChromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ASSENT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const how = "install Debian's chromium (scripts/deps.sh does), or set ASSENT_CHROMIUM"
	if testenv.CI() {
		t.Fatalf("Chromium is required under CI but not found: %s", how)
	}
	t.Skipf("Chromium not found: %s", how)
	return ""
}

// browser starts a fresh headless Chromium with the project's flags and
// collects what it reports as wrong (CSP violations, errors, exceptions).
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	exe := RequireChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	var mu sync.Mutex
	var problems []string
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *log.EventEntryAdded:
			// The 422 is the page refusing "I agree" without the age box, on purpose.
			if strings.Contains(e.Entry.Text, "status of 422") {
				return
			}
			if e.Entry.Level == log.EntryLevelError || strings.Contains(e.Entry.Text, "Content Security Policy") {
				problems = append(problems, "log: "+e.Entry.Text)
			}
		case *cdpruntime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		case *cdpruntime.EventConsoleAPICalled:
			if e.Type == "error" {
				problems = append(problems, "console error")
			}
		}
	})
	if err != nil {
		t.Fatalf("starting Chromium (%s): %v", exe, err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdpruntime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return ctx, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), problems...) }
}

// do runs browser steps with a time limit.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatal(err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func shotDir(t *testing.T) string {
	_, file, _, _ := goruntime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(shotDir(t), name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A real headless Chromium opens Bob's consent page on a phone-sized
// viewport, agrees, then withdraws; the device side — a real recording.Call —
// sees its gate open, then the recording stop within a second.
func TestNoConsentNoAudio_RemoteInRealBrowser(t *testing.T) {
	ctx, problems := browser(t)
	w := newWorld(t, nil)
	c := w.call
	must(t)(c.Add("ana", consent.Principal{Name: "Ana", Lang: "en"}))
	must(t)(c.Add("bob", consent.Principal{Name: "Bob Jansen", Lang: "en"}))
	must(t)(c.Agree("ana", consent.OnScreen, ""))
	must(t)(c.RequestRecording())
	l, err := w.client.Open(context.Background(), c, Request{RecordingID: "rec-remote-1", Notices: w.set,
		Participants: []string{"bob"}, OpenSlots: 2})
	if err != nil {
		t.Fatal(err)
	}
	stop := runLink(t, l)
	defer stop()

	phone := chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)
	do(t, ctx, phone, chromedp.Navigate(l.URLs["bob"]), chromedp.WaitVisible(chromedp.CSS(`button[value="given"]`)))
	title := text(t, ctx, "#nt")
	lang, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "recorded") || lang != "en" {
		t.Fatalf("page title %q, lang %q", title, lang)
	}
	screenshot(t, ctx, "remote-notice-phone.png")
	// Polished on a phone: nothing wider than the screen, buttons big enough to tap.
	if wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); err != nil || wide {
		t.Fatalf("the page scrolls sideways on a 390 px phone (%v)", err)
	}
	if h, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelector('button[value="given"]').getBoundingClientRect().height`)); err != nil || h < 44 {
		t.Fatalf("the agree button is %v px high, want ≥ 44 (tap target) (%v)", h, err)
	}
	// The same page in dark mode.
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "remote-notice-phone-dark.png")
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}); err != nil {
		t.Fatal(err)
	}
	if c.State().GateOpen || c.Stats().Admitted != 0 {
		t.Fatal("the gate opened before Bob answered")
	}

	// Agreeing without the age box is refused by the page itself.
	do(t, ctx, chromedp.Click(chromedp.CSS(`button[value="given"]`)), chromedp.WaitVisible(chromedp.CSS(`.error`)))
	screenshot(t, ctx, "remote-age-missing-phone.png")
	if c.State().GateOpen {
		t.Fatal("the gate opened without an age confirmation")
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(`input[name="age"]`)), chromedp.Click(chromedp.CSS(`button[value="given"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button.stop`)))
	opened := waitFor(t, 2*time.Second, "the device's gate opening after Bob agreed in the browser", func() bool { return c.State().GateOpen })
	t.Logf("browser agree → device gate open: %v after the page showed the Withdraw button", opened)
	waitFor(t, 10*time.Second, "audio being admitted", func() bool { return c.Stats().Admitted >= 4800 })
	screenshot(t, ctx, "remote-agreed-phone.png")

	start := time.Now()
	do(t, ctx, chromedp.Click(chromedp.CSS(`button.stop`)))
	select {
	case <-c.Done():
	case <-time.After(time.Second):
		t.Fatal("the recording did not stop within a second of Bob pressing Withdraw")
	}
	t.Logf("browser withdraw click → recording stopped in %v", time.Since(start))
	do(t, ctx, chromedp.WaitVisible(chromedp.CSS(`.status.stopped`)))
	screenshot(t, ctx, "remote-withdrawn-phone.png")
	if st := c.State(); st.GateOpen || st.Phase != consent.PhaseStopped {
		t.Fatalf("after withdrawal: %+v", st)
	}

	// The shared call URL on a laptop, in Dutch, asks for a name.
	desktop := chromedp.EmulateViewport(1280, 900)
	do(t, ctx, desktop, chromedp.Navigate(l.CallURL+"?lang=nl"), chromedp.WaitVisible(chromedp.CSS(`#name`)))
	nameLabel := text(t, ctx, `label[for="name"]`)
	if nameLabel != "Uw naam" {
		t.Fatalf("Dutch name label %q", nameLabel)
	}
	screenshot(t, ctx, "remote-call-desktop-nl.png")
	if p := problems(); len(p) > 0 {
		t.Fatalf("the browser reported problems (CSP violations, errors): %v", p)
	}
	if _, err := consent.Verify(w.store.last(), w.pub); err != nil {
		t.Fatal(err)
	}
}
