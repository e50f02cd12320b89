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
	"math"
	"sort"
	"strings"
	gosync "sync"
	"time"

	"github.com/assent-app/assent/app"
	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/config"
	"github.com/assent-app/assent/internal/platform"
	"github.com/assent-app/assent/internal/workspace"
	"github.com/assent-app/assent/vault"
)

func init() {
	app.NewBackend = func() (app.Backend, error) { return New(config.Path(), config.VaultDir(), nil) }
}

// Backend implements app.Backend.
type Backend struct {
	cfgPath, vaultDir string
	secrets           vault.SecretStore

	mu       gosync.Mutex
	cfg      config.Config
	v        *vault.Vault
	vaultErr error
	report   *vault.OpenReport
	meter    *meter
	sync     *syncer
}

// New opens the settings and the vault. A vault that cannot be opened (no
// keyring, say) is not an error here: Checks reports it in plain words and
// recording is refused until it is fixed.
func New(cfgPath, vaultDir string, secrets vault.SecretStore) (*Backend, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	b := &Backend{cfgPath: cfgPath, vaultDir: vaultDir, secrets: secrets, cfg: cfg}
	b.v, b.report, b.vaultErr = workspace.OpenVault(vaultDir, secrets)
	if b.v != nil {
		b.sync = newSyncer(b)
	}
	return b, nil
}

// Report is what opening the vault found (recovered recordings), or nil.
func (b *Backend) Report() *vault.OpenReport { return b.report }

func (b *Backend) vault() (*vault.Vault, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.v == nil {
		v, rep, err := workspace.OpenVault(b.vaultDir, b.secrets)
		if err != nil {
			b.vaultErr = err
			return nil, err
		}
		b.v, b.report, b.vaultErr = v, rep, nil
		b.sync = newSyncer(b)
	}
	return b.v, nil
}

// Checks implements app.Backend.
func (b *Backend) Checks() []app.Check {
	var out []app.Check
	_, err := b.vault()
	var ke *vault.KeyringError
	switch {
	case err == nil:
		out = append(out, app.Check{Name: "Keyring", OK: true}, app.Check{Name: "Encryption key", OK: true})
	case errors.As(err, &ke):
		out = append(out, app.Check{Name: "Keyring", Problem: err.Error(),
			Fix: platform.KeyringFix() + ", then reopen Assent. Assent never keeps keys or audio unencrypted."},
			app.Check{Name: "Encryption key", Problem: "The device key lives in the keyring, which is not available.", Fix: "Fix the keyring first."})
	default:
		out = append(out, app.Check{Name: "Keyring", OK: true},
			app.Check{Name: "Encryption key", Problem: err.Error(), Fix: "Restore the vault folder from a backup, or move it aside to start a new library."})
	}
	devs, err := audio.Devices()
	switch {
	case err != nil:
		out = append(out, app.Check{Name: "Sound server", Problem: err.Error(), Fix: platform.SoundFix() + ", then reopen Assent."},
			app.Check{Name: "Input device", Problem: "Without a sound server no microphone can be found.", Fix: "Fix the sound server first."})
	case len(devs) == 0:
		out = append(out, app.Check{Name: "Sound server", OK: true},
			app.Check{Name: "Input device", Problem: "No microphone or other input was found.", Fix: "Connect a microphone or headset and check it is not muted in the sound settings."})
	default:
		out = append(out, app.Check{Name: "Sound server", OK: true}, app.Check{Name: "Input device", OK: true})
	}
	return out
}

// Devices implements app.Backend.
func (b *Backend) Devices() ([]app.Device, error) {
	devs, err := audio.Devices()
	if err != nil {
		return nil, err
	}
	out := make([]app.Device, 0, len(devs))
	for _, d := range devs {
		out = append(out, app.Device{ID: d.Name, Name: d.Name, Default: d.Default})
	}
	return out, nil
}

// OpenMeter implements app.Backend: it captures from the devices through a
// pipeline whose gate never opens, so nothing is encoded or kept — only the
// levels, measured before the gate, are read.
func (b *Backend) OpenMeter(ids []string) (app.Meter, error) {
	b.closeMeter()
	cc := audio.CaptureConfig{}
	if len(ids) > 0 {
		cc.Input = ids[0]
	}
	if len(ids) > 1 {
		cc.CallInput = ids[1]
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
	set, _, err := workspace.Notices(b.config())
	if err != nil {
		return []string{"en"}
	}
	return set.Langs()
}

func (b *Backend) config() config.Config {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cfg
}

// Notice implements app.Backend.
func (b *Backend) Notice(lang string) (app.Notice, error) {
	set, _, err := workspace.Notices(b.config())
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
	if b.sync != nil {
		for _, p := range b.sync.snapshot() {
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
	if b.sync != nil {
		b.sync.kick()
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
	b.mu.Lock()
	c := b.cfg
	c.Input, c.CallInput = s.InputDevice, s.CallDevice
	c.Chime, c.Beep = s.Chime, s.Beep
	c.Language = s.Language
	if s.MinimumAge != 0 {
		c.Org.MinAge = s.MinimumAge
	}
	if s.RetentionDays >= 0 {
		c.DeleteAfterSyncDays = s.RetentionDays
	}
	if s.ServerURL != "" {
		c.ServerURL = s.ServerURL
	}
	b.mu.Unlock()
	if err := c.Org.Validate(); err != nil {
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
