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

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/sync/remote"
)

// FakeBackend is an in-memory Backend for tests and the screenshot tour
// (test code only: production code holds no test double). It
// is honest: its gate admits simulated audio only while recording is
// requested, not paused, and every present participant has live consent;
// a refusal stores nothing; a withdrawal stops at once; Delete removes.
//
// Audio time is simulated: each Tick is one captured buffer offered to the
// gate. Tests call Tick themselves; StartClock ticks in real time.
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
	stopClock  chan struct{}
	exportLog  []string
	enrolCodes []string
}

// Demo tells the UI to say it runs over a stand-in (banner and title).
func (f *FakeBackend) Demo() bool { return true }

// BufferDuration is the simulated capture buffer of FakeBackend.Tick.
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
		c.admit()
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

// NewCall implements Backend.
func (f *FakeBackend) NewCall(s CallSetup) (Call, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFail(); err != nil {
		return nil, err
	}
	for _, c := range f.checks {
		if !c.OK {
			return nil, fmt.Errorf("cannot record: %s: %s %s", c.Name, c.Problem, c.Fix)
		}
	}
	if len(s.Participants) == 0 {
		return nil, errors.New("add at least one participant before asking for consent")
	}
	c := &fakeCall{f: f, title: s.Title, levels: len(s.Devices), started: time.Now()}
	for _, p := range s.Participants {
		if strings.TrimSpace(p.Name) == "" {
			return nil, errors.New("every participant needs a name")
		}
		c.add(p, false)
	}
	f.calls = append(f.calls, c)
	return c, nil
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

// fakeCall is the fake's consent session and gate.
type fakeCall struct {
	f        *FakeBackend
	mu       sync.Mutex
	title    string
	started  time.Time
	levels   int
	parts    []Participant
	present  map[string]bool
	lang     map[string]string
	events   []string
	want     bool // recording requested
	paused   bool
	holding  bool // HoldForJoin: someone joined, name not typed yet
	ended    bool
	reason   EndReason
	who      string
	frames   int64 // admitted buffers
	recID    string
	nextPart int
	err      error // why the call failed (FailCalls)
}

func (c *fakeCall) add(p ParticipantInfo, late bool) string {
	c.nextPart++
	id := fmt.Sprintf("p%d", c.nextPart)
	if c.present == nil {
		c.present = map[string]bool{}
	}
	c.parts = append(c.parts, Participant{ID: id, ParticipantInfo: p, Late: late})
	c.present[id] = true
	c.event("participant %s added (%s)", id, p.Lang)
	return id
}

func (c *fakeCall) event(format string, a ...any) {
	c.events = append(c.events, fmt.Sprintf("%s  %s  @%s", time.Now().UTC().Format(time.RFC3339),
		fmt.Sprintf(format, a...), time.Duration(c.frames)*BufferDuration))
}

// openLocked is the gate: open iff recording is requested, not paused, not
// ended and every present participant has live consent.
func (c *fakeCall) openLocked() bool {
	if !c.want || c.paused || c.holding || c.ended {
		return false
	}
	for _, p := range c.parts {
		if c.present[p.ID] && p.State != Given {
			return false
		}
	}
	return true
}

func (c *fakeCall) admit() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.openLocked() {
		c.frames++
	}
}

func (c *fakeCall) State() CallState {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := CallState{Recorded: time.Duration(c.frames) * BufferDuration, Participants: append([]Participant(nil), c.parts...),
		Reason: c.reason, Who: c.who, RecordingID: c.recID}
	switch {
	case c.ended:
		s.Phase = PhaseEnded
	case !c.want:
		s.Phase = PhaseAsking
	case c.paused:
		s.Phase = PhasePaused
	case !c.openLocked():
		s.Phase = PhaseHeld
	default:
		s.Phase = PhaseRecording
	}
	if !c.ended {
		m := fakeMeter{n: c.levels, start: c.started}
		s.Levels = m.Levels()
	}
	s.Err = c.err
	return s
}

// FailCalls ends every call in progress with err, as a full disk or an
// unplugged device does: the gate closes and what was admitted is kept.
func (f *FakeBackend) FailCalls(err error) {
	f.mu.Lock()
	calls := append([]*fakeCall(nil), f.calls...)
	f.mu.Unlock()
	for _, c := range calls {
		c.mu.Lock()
		if !c.ended {
			c.err = err
			c.endLocked(FailedReason, "")
		}
		c.mu.Unlock()
	}
}

func (c *fakeCall) part(id string) (*Participant, error) {
	for i := range c.parts {
		if c.parts[i].ID == id {
			return &c.parts[i], nil
		}
	}
	return nil, fmt.Errorf("no participant %s in this call", id)
}

func (c *fakeCall) Decide(id string, d Decision) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return errors.New("this call has ended; start a new call")
	}
	p, err := c.part(id)
	if err != nil {
		return err
	}
	if d.Agree && !d.AgeConfirmed {
		return errors.New("the participant must confirm their age before agreeing")
	}
	if d.Method == "" {
		d.Method = consent.OnScreen
	}
	p.Method = d.Method
	if d.Lang != "" {
		p.Lang = d.Lang
	}
	if !d.Agree {
		p.State = Refused
		c.event("ConsentRefused by %s", id)
		c.endLocked(RefusedBy, p.Name)
		return nil
	}
	p.State = Given
	c.event("ConsentGiven by %s (%s, %s)", id, d.Method, p.Lang)
	return nil
}

func (c *fakeCall) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return errors.New("this call has ended; start a new call")
	}
	for _, p := range c.parts {
		if c.present[p.ID] && p.State != Given {
			return fmt.Errorf("%s has not agreed yet; nothing is recorded until everyone agrees", p.Name)
		}
	}
	c.want = true
	c.event("RecordingStarted")
	return nil
}

func (c *fakeCall) HoldForJoin() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = true
	c.event("RecordingPaused (someone joined)")
	return nil
}

func (c *fakeCall) CancelJoin() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = false
	return nil
}

func (c *fakeCall) Join(p ParticipantInfo) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return "", errors.New("this call has ended; start a new call")
	}
	if strings.TrimSpace(p.Name) == "" {
		return "", errors.New("type the name of the person who joined")
	}
	id := c.add(p, true)
	c.holding = false
	return id, nil
}

func (c *fakeCall) Withdraw(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.part(id)
	if err != nil {
		return err
	}
	p.State = Withdrawn
	c.event("ConsentWithdrawn by %s", id)
	c.endLocked(WithdrawnBy, p.Name)
	return nil
}

func (c *fakeCall) Pause() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = true
	c.event("RecordingPaused")
	return nil
}

func (c *fakeCall) Resume() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return errors.New("this call has ended; start a new call")
	}
	c.paused = false
	c.event("RecordingResumed")
	return nil
}

func (c *fakeCall) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return nil
	}
	c.event("RecordingStopped")
	c.endLocked(StoppedByHost, "")
	return nil
}

// endLocked closes the gate for good and stores what was admitted, if
// anything. A refusal before any audio stores nothing.
func (c *fakeCall) endLocked(r EndReason, who string) {
	c.ended, c.reason, c.who = true, r, who
	f := c.f
	f.mu.Lock()
	for i, x := range f.calls {
		if x == c {
			f.calls = append(f.calls[:i], f.calls[i+1:]...)
			break
		}
	}
	f.mu.Unlock()
	if c.frames == 0 {
		return
	}
	var names []string
	for _, p := range c.parts {
		if p.State == Given || p.State == Withdrawn {
			names = append(names, p.Name)
		}
	}
	rec := Recording{Title: c.title, Started: c.started, Duration: time.Duration(c.frames) * BufferDuration,
		Participants: names, Size: c.frames * 80}
	f.mu.Lock()
	id := f.addLocked(rec)
	f.receipts[id] = "Consent record of " + c.title + "\n\n" + strings.Join(c.events, "\n")
	f.mu.Unlock()
	c.recID = id
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

// ConsentLink implements Call like the real backend: it needs an enrolled
// server. The fake's participants answer "on their own device" through
// Decide with Method Remote (tests and demos do that).
func (c *fakeCall) ConsentLink(id string) (ConsentLink, error) {
	c.f.mu.Lock()
	st := c.f.sync
	c.f.mu.Unlock()
	if !st.Enrolled {
		return ConsentLink{}, errors.New("remote consent needs the organisation's server: enrol this device in Settings. On-screen and verbal consent work without it")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return ConsentLink{}, errors.New("this call has ended; start a new call")
	}
	if id != "" {
		if _, err := c.part(id); err != nil {
			return ConsentLink{}, err
		}
	}
	sum := sha256.Sum256([]byte(c.title + "/" + id))
	u := strings.TrimRight(st.ServerURL, "/") + "/c/" + hex.EncodeToString(sum[:16])
	qr, err := remote.QRCodePNG(u)
	if err != nil {
		return ConsentLink{}, err
	}
	return ConsentLink{URL: u, QR: qr, Expires: time.Now().Add(3 * time.Hour)}, nil
}
