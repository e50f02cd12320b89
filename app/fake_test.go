package app

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// FakeBackend is an in-memory Backend for tests and the screenshot tour
// (test code only: production code holds no test double). Its calls are
// real: each runs the shared call rules (recording.Call) over a real
// consent.Session, whose gate decides what the real audio pipeline admits
// (fakecall_test.go); the library, devices, meters, playback and sync
// around them are in memory. Delete removes.
//
// Audio time is simulated: each Tick is one captured buffer (20 ms of
// silence) offered to the gate of every call; it returns once the gate has
// judged it. Tests call Tick themselves; StartClock ticks in real time.
type FakeBackend struct {
	mu         sync.Mutex
	checks     []Check
	devices    []Device
	recs       []Recording
	receipts   map[string]string
	sync       SyncStatus
	settings   Settings
	calls      []*fakeCall
	failNext   error // returned by the next fallible call, then cleared
	nextID     int
	nextCall   int
	stopClock  chan struct{}
	exportLog  []string
	enrolCodes []string
}

// Demo tells the UI to say it runs over a stand-in (banner and title).
func (f *FakeBackend) Demo() bool { return true }

// BufferDuration is the simulated capture buffer of FakeBackend.Tick
// (audio.FrameSize frames at audio.SampleRate).
const BufferDuration = 20 * time.Millisecond

// NewFakeBackend returns a fake with two input devices, all checks passing
// and an empty library.
func NewFakeBackend() *FakeBackend {
	return &FakeBackend{
		checks: []Check{
			{Name: "Keyring", OK: true},
			{Name: "Encryption key", OK: true},
			{Name: "Sound server", OK: true},
			{Name: "Input device", OK: true},
		},
		devices: []Device{
			{ID: "mic", Name: "Built-in microphone", Default: true},
			{ID: "monitor", Name: "Laptop speakers — call audio", Default: true, Call: true},
		},
		receipts: map[string]string{},
		settings: Settings{RetentionDays: 1095, MinimumAge: 16, Chime: true},
	}
}

// SetChecks replaces the first-run check results.
func (f *FakeBackend) SetChecks(c []Check) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks = append([]Check(nil), c...)
}

// FailNext makes the next fallible backend call return err.
func (f *FakeBackend) FailNext(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext = err
}

func (f *FakeBackend) takeFail() error {
	err := f.failNext
	f.failNext = nil
	return err
}

// AddRecording puts a recording into the library (for tests and screenshots).
func (f *FakeBackend) AddRecording(r Recording) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addLocked(r)
}

func (f *FakeBackend) addLocked(r Recording) string {
	if r.ID == "" {
		f.nextID++
		r.ID = fmt.Sprintf("rec-%06d", f.nextID)
	}
	// Newest first; insert after any with the same start time.
	i := sort.Search(len(f.recs), func(i int) bool { return f.recs[i].Started.Before(r.Started) })
	f.recs = append(f.recs, Recording{})
	copy(f.recs[i+1:], f.recs[i:])
	f.recs[i] = r
	return r.ID
}

// SetSync sets the sync status shown in settings.
func (f *FakeBackend) SetSync(s SyncStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sync = s
}

// Applied returns the settings last handed to Apply.
func (f *FakeBackend) Applied() Settings {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.settings
}

// Exports returns the paths Export wrote.
func (f *FakeBackend) Exports() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.exportLog...)
}

// Tick offers one simulated capture buffer to the gate of every active call.
func (f *FakeBackend) Tick() {
	f.mu.Lock()
	calls := append([]*fakeCall(nil), f.calls...)
	f.mu.Unlock()
	for _, c := range calls {
		c.src.tick()
	}
}

// StartClock ticks in real time until StopClock.
func (f *FakeBackend) StartClock() {
	f.mu.Lock()
	if f.stopClock != nil {
		f.mu.Unlock()
		return
	}
	stop := make(chan struct{})
	f.stopClock = stop
	f.mu.Unlock()
	go func() {
		t := time.NewTicker(BufferDuration)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				f.Tick()
			}
		}
	}()
}

// StopClock stops the real-time clock.
func (f *FakeBackend) StopClock() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopClock != nil {
		close(f.stopClock)
		f.stopClock = nil
	}
}

// Checks implements Backend.
func (f *FakeBackend) Checks() []Check {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Check(nil), f.checks...)
}

// Devices implements Backend.
func (f *FakeBackend) Devices() ([]Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFail(); err != nil {
		return nil, err
	}
	return append([]Device(nil), f.devices...), nil
}

type fakeMeter struct {
	n     int
	start time.Time
}

func (m *fakeMeter) Levels() []float64 {
	t := time.Since(m.start).Seconds()
	out := make([]float64, m.n)
	for i := range out {
		out[i] = 0.35 + 0.3*math.Sin(t*3+float64(i)*1.7)
	}
	return out
}
func (m *fakeMeter) Close() error { return nil }

// OpenMeter implements Backend with a synthetic, moving level.
func (f *FakeBackend) OpenMeter(ids []string) (Meter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFail(); err != nil {
		return nil, err
	}
	return &fakeMeter{n: len(ids), start: time.Now()}, nil
}

// Languages implements Backend.
func (f *FakeBackend) Languages() []string { return []string{"en", "nl"} }

// fakeNotices are the texts the fake's consent screen shows. The UI tests
// look for their wording, so they stay; the consent records of the fake's
// calls cite the shipped notice they are bound to (call-recording 2,
// rendered for fakeOrg), as the real backend's do.
var fakeNotices = map[string][2]string{
	"en": {"Recording notice", "This call is recorded **only if everyone agrees**.\n\n" +
		"**What and why:** the audio of this call, for note taking and coaching.\n\n" +
		"**If you decline**, nothing is recorded. Anyone can ask to stop at any time; recording stops at once.\n\n" +
		"**How long:** kept for {{retention}}, encrypted on the host's laptop and the organisation's server.\n\n" +
		"**Your rights:** access, correction, erasure, restriction, a copy (portability), withdrawal, and a complaint to your data-protection authority.\n\n" +
		"**Age:** you must be at least {{age}} years old to agree."},
	"nl": {"Opnamemelding", "Dit gesprek wordt **alleen opgenomen als iedereen akkoord gaat**.\n\n" +
		"**Wat en waarom:** het geluid van dit gesprek, voor notities en coaching.\n\n" +
		"**Als u weigert**, wordt er niets opgenomen. Iedereen kan op elk moment vragen te stoppen; de opname stopt direct.\n\n" +
		"**Hoe lang:** bewaard gedurende {{retention}}, versleuteld op de laptop van de gastheer en op de server van de organisatie.\n\n" +
		"**Uw rechten:** inzage, correctie, verwijdering, beperking, een kopie (overdraagbaarheid), intrekking, en een klacht bij uw toezichthouder.\n\n" +
		"**Leeftijd:** u moet minstens {{age}} jaar oud zijn om akkoord te gaan."},
}

// Notice implements Backend.
func (f *FakeBackend) Notice(lang string) (Notice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFail(); err != nil {
		return Notice{}, err
	}
	t, ok := fakeNotices[lang]
	if !ok {
		return Notice{}, fmt.Errorf("there is no consent notice in language %q; choose English or Dutch", lang)
	}
	age := f.settings.MinimumAge
	months := f.settings.RetentionDays / 30
	ret := fmt.Sprintf("%d months", months)
	if lang == "nl" {
		ret = fmt.Sprintf("%d maanden", months)
	}
	body := strings.NewReplacer("{{age}}", fmt.Sprint(age), "{{retention}}", ret).Replace(t[1])
	if f.settings.OrgNotice != "" {
		body += "\n\n" + f.settings.OrgNotice
	}
	body = "# " + t[0] + "\n\n" + body
	sum := sha256.Sum256([]byte(body))
	return Notice{ID: "assent-call", Version: "1", Lang: lang, SHA256: hex.EncodeToString(sum[:]),
		Markdown: body, MinimumAge: age}, nil
}

// Recordings implements Backend.
func (f *FakeBackend) Recordings() ([]Recording, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFail(); err != nil {
		return nil, err
	}
	return append([]Recording(nil), f.recs...), nil
}

func (f *FakeBackend) find(id string) (int, error) {
	for i, r := range f.recs {
		if r.ID == id {
			return i, nil
		}
	}
	return -1, fmt.Errorf("recording %s no longer exists; it may have been deleted", id)
}

// Play implements Backend.
func (f *FakeBackend) Play(id string) (Player, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFail(); err != nil {
		return nil, err
	}
	i, err := f.find(id)
	if err != nil {
		return nil, err
	}
	return &fakePlayer{dur: f.recs[i].Duration}, nil
}

// Export implements Backend: it writes the receipt (never audio) into dir.
func (f *FakeBackend) Export(id, dir string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFail(); err != nil {
		return "", err
	}
	if _, err := f.find(id); err != nil {
		return "", err
	}
	p := filepath.Join(dir, id+"-consent.txt")
	if err := os.WriteFile(p, []byte(f.receipts[id]), 0o600); err != nil {
		return "", fmt.Errorf("could not write the export: %w; choose a folder you can write to", err)
	}
	f.exportLog = append(f.exportLog, p)
	return p, nil
}

// Delete implements Backend.
func (f *FakeBackend) Delete(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFail(); err != nil {
		return err
	}
	i, err := f.find(id)
	if err != nil {
		return err
	}
	if f.recs[i].Sync == Synced {
		f.sync.Pending++
	}
	f.recs = append(f.recs[:i], f.recs[i+1:]...)
	delete(f.receipts, id)
	return nil
}

// Receipt implements Backend.
func (f *FakeBackend) Receipt(id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFail(); err != nil {
		return "", err
	}
	if _, err := f.find(id); err != nil {
		return "", err
	}
	return f.receipts[id], nil
}

// Sync implements Backend.
func (f *FakeBackend) Sync() SyncStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sync
}

// Enrol implements Backend.
func (f *FakeBackend) Enrol(url, code string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFail(); err != nil {
		return err
	}
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://127.0.0.1") && !strings.HasPrefix(url, "http://localhost") {
		return errors.New("the server address must start with https://; check the address your administrator gave you")
	}
	if len(strings.TrimSpace(code)) < 6 {
		return errors.New("the enrolment code is too short; copy the whole code from your administrator")
	}
	f.enrolCodes = append(f.enrolCodes, code)
	f.sync = SyncStatus{Enrolled: true, ServerURL: url, Connected: true}
	return nil
}

// Apply implements Backend.
func (f *FakeBackend) Apply(s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFail(); err != nil {
		return err
	}
	f.settings = s
	return nil
}

// fakePlayer keeps a position that advances in real time while playing.
type fakePlayer struct {
	mu      sync.Mutex
	dur     time.Duration
	pos     time.Duration
	since   time.Time
	playing bool
}

func (p *fakePlayer) now() time.Duration {
	pos := p.pos
	if p.playing {
		pos += time.Since(p.since)
	}
	if pos > p.dur {
		pos = p.dur
	}
	return pos
}
func (p *fakePlayer) Play() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.playing {
		p.playing, p.since = true, time.Now()
	}
	return nil
}
func (p *fakePlayer) Pause() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pos, p.playing = p.now(), false
	return nil
}
func (p *fakePlayer) Seek(to time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if to < 0 || to > p.dur {
		return fmt.Errorf("cannot seek to %s: the recording is %s long", to.Round(time.Second), p.dur.Round(time.Second))
	}
	p.pos, p.since = to, time.Now()
	return nil
}
func (p *fakePlayer) Position() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.now()
}
func (p *fakePlayer) Duration() time.Duration { return p.dur }
func (p *fakePlayer) Playing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.playing && p.now() < p.dur
}
func (p *fakePlayer) Close() error { return p.Pause() }
