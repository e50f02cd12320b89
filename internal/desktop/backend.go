// Package desktop is the thin bridge between the Fyne UI (app/) and the
// rest of Assent: it implements app.Backend over the settings file, the
// encrypted vault, the consent session and the audio pipeline (through the
// recording package), and the sync client. It holds no UI code and no
// consent logic of its own: the gate is consent.Session's, the files are
// the vault's.
package desktop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	gosync "sync"
	"time"

	"github.com/assent-app/assent/app"
	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/config"
	"github.com/assent-app/assent/internal/workspace"
	"github.com/assent-app/assent/vault"
)

// Backend implements app.Backend.
//
// Nothing slow happens on the caller's goroutine: New reads the settings
// file only; the vault (which needs the OS keyring) is opened in the
// background, and the sound server is looked at in the background, both
// started by Checks (which the app runs off its UI goroutine once the
// first screen is drawn). Until they are done, the methods that need them
// say so at once (ErrStillOpening) instead of waiting.
type Backend struct {
	cfgPath, vaultDir string
	secrets           vault.SecretStore

	mu       gosync.Mutex
	cfg      config.Config
	v        *vault.Vault
	vaultErr error
	opening  chan struct{} // closed when the running vault open ends; nil if none runs
	report   *vault.OpenReport
	meter    *meter
	sync     *syncer

	cleanOnce gosync.Once // call-only routing left by a killed recording (soundChecks)

	devs     []app.Device
	devErr   error
	scanning chan struct{} // closed when the running device scan ends
}

// CheckTimeout bounds each start-up check (keyring, sound server): a check
// that takes longer is reported as not answering, and can be retried.
var CheckTimeout = 6 * time.Second

// ErrStillOpening is returned while the library is being opened in the
// background (the system keyring is being asked for the key).
var ErrStillOpening = errors.New("the library is still opening (waiting for the system keyring); try again in a moment")

// ErrStillLooking is returned by Devices while the sound server is being
// asked for its input devices.
var ErrStillLooking = errors.New("still looking for input devices")

// Open is the desktop app's backend over the user's settings file and
// library (internal/config's paths and the OS keyring). It reads the
// settings only.
func Open() (*Backend, error) { return New(config.Path(), config.VaultDir(), nil) }

// New reads the settings. It opens nothing else: the vault and the sound
// server are looked at by Checks, in the background. A vault that cannot
// be opened (no keyring, say) is not an error: Checks reports it in plain
// words and recording is refused until it is fixed.
func New(cfgPath, vaultDir string, secrets vault.SecretStore) (*Backend, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	return &Backend{cfgPath: cfgPath, vaultDir: vaultDir, secrets: secrets, cfg: cfg}, nil
}

// Report is what opening the vault found (recovered recordings), or nil.
func (b *Backend) Report() *vault.OpenReport {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.report
}

// vault returns the open vault without waiting. While it is being opened
// it returns ErrStillOpening; after a failed open, that open's error (Checks
// tries again). The first call starts the open.
func (b *Backend) vault() (*vault.Vault, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.v != nil {
		return b.v, nil
	}
	if b.opening == nil && b.vaultErr == nil {
		b.startOpenLocked()
	}
	if b.opening != nil {
		return nil, ErrStillOpening
	}
	return nil, b.vaultErr
}

// startOpenLocked starts opening the vault in the background (unless an
// open runs already) and returns a channel closed when it ends.
func (b *Backend) startOpenLocked() chan struct{} {
	if b.opening != nil {
		return b.opening
	}
	done := make(chan struct{})
	b.opening = done
	go func() {
		defer close(done)
		v, rep, err := workspace.OpenVault(b.vaultDir, b.secrets)
		b.mu.Lock()
		b.v, b.report, b.vaultErr = v, rep, err
		b.mu.Unlock()
		if v != nil {
			s := newSyncer(b)
			b.mu.Lock()
			b.sync = s
			b.mu.Unlock()
		}
		b.mu.Lock()
		b.opening = nil
		b.mu.Unlock()
	}()
	return done
}

// syncer returns the background sync client, or nil before the vault is open.
func (b *Backend) syncer() *syncer {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sync
}

// awaitVault (re)tries to open the vault and waits for the result, at most d.
func (b *Backend) awaitVault(d time.Duration) (*vault.Vault, error) {
	b.mu.Lock()
	if b.v != nil {
		v := b.v
		b.mu.Unlock()
		return v, nil
	}
	done := b.startOpenLocked()
	b.mu.Unlock()
	select {
	case <-done:
	case <-time.After(d):
		return nil, errCheckTimeout
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.v, b.vaultErr
}

var errCheckTimeout = errors.New("did not answer in time")

// Checks implements app.Backend. It may take up to CheckTimeout: the app
// calls it off its UI goroutine. The keyring (opening the vault) and the
// sound server are checked at the same time.
func (b *Backend) Checks() []app.Check {
	kc := make(chan []app.Check, 1)
	go func() { kc <- b.vaultChecks() }()
	sc := make(chan []app.Check, 1)
	go func() { sc <- b.soundChecks() }()
	return append(<-kc, <-sc...)
}

func (b *Backend) vaultChecks() []app.Check {
	_, err := b.awaitVault(CheckTimeout)
	var ke *vault.KeyringError
	switch {
	case err == nil:
		return []app.Check{{Name: "Keyring", OK: true}, {Name: "Encryption key", OK: true}}
	case errors.Is(err, errCheckTimeout):
		return []app.Check{{Name: "Keyring", Problem: fmt.Sprintf("The system keyring did not answer within %d seconds.", int(CheckTimeout/time.Second)),
			Fix: "If it asks for your password, unlock it, then choose Check again."},
			{Name: "Encryption key", Problem: "The device key lives in the keyring, which has not answered yet.", Fix: "Fix the keyring first."}}
	case errors.As(err, &ke) && ke.Problem != vault.KeyMissing:
		problem, fix := KeyringAdvice(err)
		return []app.Check{{Name: "Keyring", Problem: problem, Fix: fix},
			{Name: "Encryption key", Problem: "The device key lives in the keyring, which is not available.", Fix: "Fix the keyring first."}}
	case errors.As(err, &ke):
		problem, fix := KeyringAdvice(err)
		return []app.Check{{Name: "Keyring", OK: true}, {Name: "Encryption key", Problem: problem, Fix: fix}}
	default:
		slog.Warn("the library could not be opened", "err", err)
		return []app.Check{{Name: "Keyring", OK: true},
			{Name: "Encryption key", Problem: "The library on this laptop could not be opened.", Fix: "Restore the library folder from a backup, or move it aside to start a new library. The details are in the log."}}
	}
}

// KeyringAdvice turns a keyring error into what the rep reads: what
// happened and what to do, with no D-Bus names (those go to the log).
func KeyringAdvice(err error) (problem, fix string) {
	slog.Warn("keyring", "err", err)
	switch {
	case errors.Is(err, vault.ErrNoSessionBus):
		return "No Secret Service session is running: this desktop has no session bus, so there is nowhere safe to keep the encryption key.",
			"Log in to a full desktop session (GNOME, KDE, Xfce …), or start Assent with `dbus-run-session assent` after starting a keyring (GNOME Keyring or KeePassXC), then choose Check again."
	case errors.Is(err, vault.ErrNoSecretService):
		return "No keyring (Secret Service) is running in this desktop session, so there is nowhere safe to keep the encryption key.",
			"Install and start GNOME Keyring, or KeePassXC with Secret Service enabled, then choose Check again."
	case errors.Is(err, vault.ErrKeyringLocked):
		return "The system keyring is locked.", "Unlock it (it may be asking for your password), then choose Check again."
	case errors.Is(err, vault.ErrKeyringTimeout):
		return "The system keyring did not answer in time.", "If it asks for your password, unlock it, then choose Check again."
	case errors.Is(err, vault.ErrKeyMissing):
		return "The system keyring does not hold this library's key.",
			"Restore the key from your backup (Terminal: assent key import FILE), or use the keyring this library was made with."
	}
	return "The system keyring failed.", "Check that your keyring works, then choose Check again. The details are in the log."
}

// soundChecks asks the sound server for input devices, at most CheckTimeout.
func (b *Backend) soundChecks() []app.Check {
	if err := SoundServer(); err != nil {
		b.mu.Lock()
		b.devs, b.devErr = nil, err
		b.mu.Unlock()
		return []app.Check{{Name: "Sound server", Problem: "No sound server (PulseAudio or PipeWire) is running.",
			Fix: "Start PulseAudio or PipeWire (on most desktops, log out and in again), then choose Check again."},
			{Name: "Input device", Problem: "Without a sound server no microphone can be found.", Fix: "Fix the sound server first."}}
	}
	// A recording killed while it recorded only the call app's sound left
	// its routing on the sound server: the first check undoes it.
	b.cleanOnce.Do(func() {
		if err := audio.CleanupCallRouting(context.Background()); err != nil {
			slog.Debug("call audio routing left behind", "err", err)
		}
	})
	devs, err := b.scanDevices(CheckTimeout)
	switch {
	case errors.Is(err, errCheckTimeout):
		return []app.Check{{Name: "Sound server", Problem: fmt.Sprintf("The sound server did not list its devices within %d seconds.", int(CheckTimeout/time.Second)),
			Fix: "Choose Check again; if it keeps happening, restart PulseAudio or PipeWire."},
			{Name: "Input device", Problem: "Not known yet.", Fix: "Fix the sound server first."}}
	case err != nil:
		slog.Warn("audio devices", "err", err)
		return []app.Check{{Name: "Sound server", Problem: "The sound server answered, but its devices could not be listed.", Fix: "Restart PulseAudio or PipeWire, then choose Check again."},
			{Name: "Input device", Problem: "No microphone can be found.", Fix: "Fix the sound server first."}}
	case len(devs) == 0:
		return []app.Check{{Name: "Sound server", OK: true},
			{Name: "Input device", Problem: "No microphone or other input was found.", Fix: "Connect a microphone or headset and check it is not muted in the sound settings, then choose Check again."}}
	}
	return []app.Check{{Name: "Sound server", OK: true}, {Name: "Input device", OK: true}}
}

// scanDevices lists the input devices in the background (one scan at a
// time) and waits for it at most d.
func (b *Backend) scanDevices(d time.Duration) ([]app.Device, error) {
	b.mu.Lock()
	done := b.scanning
	if done == nil {
		done = make(chan struct{})
		b.scanning = done
		go func() {
			defer close(done)
			out, err := deviceList(b.config()) // devices.go: the sound server's names
			b.mu.Lock()
			b.devs, b.devErr, b.scanning = out, err, nil
			b.mu.Unlock()
		}()
	}
	b.mu.Unlock()
	select {
	case <-done:
	case <-time.After(d):
		return nil, errCheckTimeout
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.devs, b.devErr
}

// Devices implements app.Backend: the devices the last scan found, without
// waiting. Before any scan ended it starts one and returns ErrStillLooking.
func (b *Backend) Devices() ([]app.Device, error) {
	b.mu.Lock()
	devs, err, scanned := b.devs, b.devErr, b.devs != nil || b.devErr != nil
	callOff := b.cfg.CallInput == config.CallNone
	b.mu.Unlock()
	if !scanned {
		go b.scanDevices(CheckTimeout)
		return nil, ErrStillLooking
	}
	if err != nil {
		return nil, err
	}
	out := append([]app.Device(nil), devs...)
	for i := range out {
		if out[i].ID == DefaultCallID { // the scan may predate a settings change
			out[i].Default = !callOff
		}
	}
	return out, nil
}

// OpenMeter implements app.Backend: it captures from the devices through a
// pipeline whose gate never opens, so nothing is encoded or kept — only the
// levels, measured before the gate, are read.
func (b *Backend) OpenMeter(ids []string) (app.Meter, error) {
	b.closeMeter()
	cc, err := captureFor(ids) // devices.go
	if err != nil {
		return nil, err
	}
	if _, onlyApp := audio.IsCallAppInput(cc.CallInput); onlyApp {
		// A level meter never re-routes the rep's sound: it meters what the
		// computer plays, of which the call app's sound is part.
		cc.CallInput = audio.CallOutput
	}
	src, err := audio.OpenCapture(cc)
	if err != nil {
		return nil, err
	}
	p, err := audio.NewPipeline(audio.PipelineConfig{Source: src, Gate: closedGate{}, Sink: discard{}})
	if err != nil {
		src.Close()
		return nil, err
	}
	m := &meter{p: p, done: make(chan struct{})}
	go func() { _ = p.Run(context.Background()); close(m.done) }()
	b.mu.Lock()
	b.meter = m
	b.mu.Unlock()
	return m, nil
}

func (b *Backend) closeMeter() {
	b.mu.Lock()
	m := b.meter
	b.meter = nil
	b.mu.Unlock()
	if m != nil {
		_ = m.Close()
	}
}

// closedGate admits nothing: metering only.
type closedGate struct{}

func (closedGate) Admit(int) bool { return false }

// discard receives only the Ogg header pages of a metering pipeline.
type discard struct{}

func (discard) WritePage([]byte) error { return nil }
func (discard) Seal() error            { return nil }
func (discard) Close() error           { return nil }

type meter struct {
	p    *audio.Pipeline
	done chan struct{}
	once gosync.Once
}

func (m *meter) Levels() []float64 { return levels(m.p.Meters()) }

func (m *meter) Close() error {
	m.once.Do(func() { m.p.Stop(); <-m.done })
	return nil
}

// levels maps dBFS peaks to 0..1 over a 60 dB range.
func levels(ms *audio.Meters) []float64 {
	out := make([]float64, ms.Channels())
	for i, l := range ms.Levels() {
		v := (l.Peak + 60) / 60
		out[i] = math.Max(0, math.Min(1, v))
	}
	return out
}

// Languages implements app.Backend.
func (b *Backend) Languages() []string {
	return workspace.Languages(b.config(), b.cfgPath)
}

func (b *Backend) config() config.Config {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cfg
}

// Notice implements app.Backend.
func (b *Backend) Notice(lang string) (app.Notice, error) {
	set, _, _, err := workspace.NoticesAt(b.config(), b.cfgPath)
	if err != nil {
		return app.Notice{}, err
	}
	n := set.Texts[lang]
	if n == nil {
		return app.Notice{}, fmt.Errorf("the notice is not available in %q; choose one of %s", lang, strings.Join(set.Langs(), ", "))
	}
	title := "Recording notice"
	if line, _, _ := strings.Cut(strings.TrimSpace(n.Text), "\n"); strings.HasPrefix(line, "#") {
		title = strings.TrimSpace(strings.TrimLeft(line, "#"))
	}
	return app.Notice{ID: n.ID, Version: n.Version, Lang: n.Lang, SHA256: n.SHA256, Title: title,
		Markdown: n.Text, MinimumAge: set.Org.MinAge}, nil
}

// Recordings implements app.Backend.
func (b *Backend) Recordings() ([]app.Recording, error) {
	v, err := b.vault()
	if err != nil {
		return nil, err
	}
	prog := map[string]float64{}
	phase := map[string]string{}
	if sy := b.syncer(); sy != nil {
		for _, p := range sy.snapshot() {
			if p.BytesTotal > 0 {
				prog[p.ID] = float64(p.BytesDone) / float64(p.BytesTotal)
			}
			phase[p.ID] = string(p.Phase)
		}
	}
	enrolled := b.config().ServerURL != ""
	list := v.List()
	out := make([]app.Recording, 0, len(list))
	for _, s := range list {
		r := app.Recording{ID: s.ID, Title: s.Title, Started: s.Started, Duration: s.Duration, Size: s.Size, Recovered: s.Recovered}
		for _, p := range s.Participants {
			r.Participants = append(r.Participants, p.Name)
		}
		switch {
		case s.Sync == vault.SyncSynced:
			r.Sync = app.Synced
		case !enrolled:
			r.Sync = app.LocalOnly
		case phase[s.ID] == "failed":
			r.Sync = app.SyncFailed
		case s.Sync == vault.SyncUploading || phase[s.ID] == "uploading":
			r.Sync, r.Progress = app.Uploading, prog[s.ID]
		default:
			r.Sync = app.Queued
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, nil
}

// Play implements app.Backend.
func (b *Backend) Play(id string) (app.Player, error) {
	v, err := b.vault()
	if err != nil {
		return nil, err
	}
	rc, err := v.OpenStream(id)
	if err != nil {
		return nil, err
	}
	p, err := audio.NewPlayer(rc)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &player{p: p, rc: rc}, nil
}

type player struct {
	p  *audio.Player
	rc interface{ Close() error }
}

func (p *player) Play() error                { p.p.Play(); return nil }
func (p *player) Pause() error               { p.p.Pause(); return nil }
func (p *player) Seek(d time.Duration) error { return p.p.Seek(d) }
func (p *player) Position() time.Duration    { return p.p.Position() }
func (p *player) Duration() time.Duration    { return p.p.Duration() }
func (p *player) Playing() bool              { return p.p.Playing() }
func (p *player) Close() error               { p.p.Stop(); return p.rc.Close() }

// Export implements app.Backend.
func (b *Backend) Export(id, dir string) (string, error) {
	v, err := b.vault()
	if err != nil {
		return "", err
	}
	if _, err := workspace.Export(v, id, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// Delete implements app.Backend.
func (b *Backend) Delete(id string) error {
	v, err := b.vault()
	if err != nil {
		return err
	}
	if err := v.Delete(id); err != nil {
		return err
	}
	if sy := b.syncer(); sy != nil {
		sy.kick()
	}
	return nil
}

// Receipt implements app.Backend: the verification result, then each
// participant's receipt.
func (b *Backend) Receipt(id string) (string, error) {
	v, err := b.vault()
	if err != nil {
		return "", err
	}
	data, err := v.Record(id)
	if err != nil {
		return "", err
	}
	if data == nil {
		return "", errors.New("no consent record is stored for this recording")
	}
	var sb strings.Builder
	proof, verr := consent.Verify(data, v.SigningPublicKey())
	if verr != nil {
		fmt.Fprintf(&sb, "⚠ The consent record does NOT verify: %v\n\n", verr)
	} else {
		fmt.Fprintf(&sb, "✓ Consent record verified: hash chain and device signature intact; %d recorded span(s), %s of audio, every second covered by the consent of everyone present.\n\n",
			len(proof.Spans), (time.Duration(proof.FinalOffset) * time.Second / audio.SampleRate).Round(time.Second))
	}
	rs, err := workspace.Receipts(v, id)
	if err != nil {
		return sb.String(), err
	}
	names := make([]string, 0, len(rs))
	for n := range rs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sb.Write(rs[n])
		sb.WriteString("\n\n")
	}
	return sb.String(), nil
}

// Apply implements app.Backend: the user's settings go into the shared
// settings file (the command line reads the same).
func (b *Backend) Apply(s app.Settings) error {
	months := b.Org().RetentionMonths
	b.mu.Lock()
	c := b.cfg
	c.Input, c.CallInput = settingToConfig(s.InputDevice), settingToConfig(s.CallDevice) // devices.go
	c.Chime, c.Beep = s.Chime, s.Beep
	c.Language = s.Language
	if s.MinimumAge != 0 {
		c.Org.MinAge = s.MinimumAge
	}
	if s.RetentionDays >= 0 {
		// The laptop copy's lifetime; it never outlasts what the notice
		// tells participants (months of 31 days, so never shorter either).
		c.DeleteAfterSyncDays = s.RetentionDays
		if months > 0 && c.DeleteAfterSyncDays > months*31 {
			c.DeleteAfterSyncDays = months * 31
		}
	}
	if s.ServerURL != "" {
		c.ServerURL = s.ServerURL
	}
	b.mu.Unlock()
	if err := c.Org.ValidateStored(); err != nil {
		return err
	}
	if err := config.Save(b.cfgPath, c); err != nil {
		return fmt.Errorf("the settings could not be saved: %w", err)
	}
	b.mu.Lock()
	b.cfg = c
	b.mu.Unlock()
	return nil
}
