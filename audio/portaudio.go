package audio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gordonklaus/portaudio"
)

// paMu serialises PortAudio's global initialisation and stream opening.
var paMu sync.Mutex

func paInit() error {
	var err error
	withQuietStderr(func() { err = portaudio.Initialize() })
	if err != nil {
		return fmt.Errorf("audio: the sound system could not start (%v) — is a sound server running?", err)
	}
	skipLowStreamIDs.Do(func() {
		// portaudio passes its stream ids to C as unsafe.Pointer(id); ids
		// 1..4095 make Go's checkptr (on with -race) abort the process.
		// An OpenStream without buffers fails after taking an id, so this
		// moves the next id past the range once per process.
		for i := 0; i < 4096; i++ {
			_, _ = portaudio.OpenStream(portaudio.StreamParameters{})
		}
	})
	return nil
}

var skipLowStreamIDs sync.Once

func paTerminate() { _ = portaudio.Terminate() }

// Device describes one capture device.
type Device struct {
	Index       int    // PortAudio device index (valid until devices change)
	Name        string // pass this (or the index) as the input name
	HostAPI     string // e.g. "ALSA", "Core Audio", "Windows WASAPI"
	MaxChannels int    // maximum input channels
	Default     bool   // the system's default input
}

// Devices lists the devices that can capture audio.
func Devices() ([]Device, error) {
	paMu.Lock()
	defer paMu.Unlock()
	if err := paInit(); err != nil {
		return nil, err
	}
	defer paTerminate()
	devs, err := portaudio.Devices()
	if err != nil {
		return nil, fmt.Errorf("audio: listing sound devices: %v", err)
	}
	def, _ := portaudio.DefaultInputDevice()
	var out []Device
	for _, d := range devs {
		if d.MaxInputChannels < 1 {
			continue
		}
		dev := Device{Index: d.Index, Name: d.Name, MaxChannels: d.MaxInputChannels, Default: def != nil && def.Index == d.Index}
		if d.HostApi != nil {
			dev.HostAPI = d.HostApi.Name
		}
		out = append(out, dev)
	}
	return out, nil
}

// CallOutput, as CaptureConfig.CallInput, records what the computer plays:
// the monitor of the sound server's current default output, followed when
// the default output changes (headset plugged in, Bluetooth connects).
const CallOutput = "output"

// ErrCallAudioUnsupported says this system cannot record what it plays.
var ErrCallAudioUnsupported = errors.New("audio: this system cannot record the call's audio (what the computer plays) yet, so the other side of the call would not be recorded — choose the call audio device in the settings, or \"(none)\" to record only the microphone")

// CaptureConfig chooses what to capture.
type CaptureConfig struct {
	// Input is the microphone: "" for the default input (on PulseAudio /
	// PipeWire the server's default source, followed when it changes), a
	// device name as listed by Devices, its index, or "pulse:SOURCE" for a
	// PulseAudio / PipeWire source by name (through the ALSA "pulse" device).
	Input string
	// CallInput, if set, is the call's audio: CallOutput for what the
	// computer plays (followed), or a device as for Input, e.g.
	// "pulse:alsa_output.pci-0000_00_1f.3.analog-stereo.monitor". It is
	// recorded as the right channel; the microphone is the left. "" records
	// the microphone alone (mono).
	CallInput string
}

type followKind int

const (
	followNone followKind = iota
	followInput
	followOutput
)

// OpenCapture opens the configured inputs as a Source (mono, or stereo
// with CallInput). The first buffer arrives 0.3–2 s after Start.
func OpenCapture(cfg CaptureConfig) (Source, error) {
	// Ask the sound server before taking PortAudio's lock: pactl can take
	// a moment.
	ctx := context.Background()
	micName, micFollow := cfg.Input, followNone
	if cfg.Input == "" {
		if src, err := resolveFollowed(ctx, followInput); err == nil && src != "" {
			micName, micFollow = "pulse:"+src, followInput
		} // else PortAudio's default input, not followed
	}
	callName, callFollow := cfg.CallInput, followNone
	var callExt extInput
	if cfg.CallInput == CallOutput && callOutputByLoopback {
		// Windows: WASAPI loopback of the default output (input.go).
		ext, err := openCallOutput()
		if err != nil {
			return nil, err
		}
		callExt, callName = ext, ""
	} else if cfg.CallInput == CallOutput {
		src, err := resolveFollowed(ctx, followOutput)
		if err != nil {
			if errors.Is(err, ErrCallAudioUnsupported) {
				return nil, err
			}
			return nil, fmt.Errorf("%w\n(the call's audio — what this computer plays — is found through the sound server)", err)
		}
		callName, callFollow = "pulse:"+src, followOutput
	}
	router, err := openCallRouter(ctx, cfg.CallInput) // callonly.go: only the call app's sound
	if err != nil {
		return nil, err
	}
	if router != nil {
		callName = "pulse:" + router.sinkName() + ".monitor"
	}

	paMu.Lock()
	defer paMu.Unlock()
	if err := paInit(); err != nil {
		closeExt(callExt)
		router.close()
		return nil, err
	}
	s := &paSource{router: router}
	mic, err := openInput(micName, "microphone")
	if err != nil {
		closeExt(callExt)
		paTerminate()
		router.close()
		return nil, err
	}
	mic.follow = micFollow
	s.in = append(s.in, mic)
	if callName != "" {
		call, err := openInput(callName, "call audio")
		if err != nil {
			mic.stream.Close()
			paTerminate()
			router.close()
			return nil, err
		}
		call.follow = callFollow
		s.in = append(s.in, call)
	}
	if callExt != nil {
		s.in = append(s.in, extPaInput(callExt, "call audio"))
	}
	s.cur = s.sources()
	return s, nil
}

// minInputLatency sizes each input's buffer: with two inputs read in
// lock-step on a loaded machine, ALSA's default (tens of ms) overran and
// lost audio; half a second of slack costs only memory. Capture latency
// does not matter for a recorder (the gate counts buffers, not time).
const minInputLatency = 500 * time.Millisecond

// coalesce is how long a burst of sound server events is gathered before
// the defaults are asked again.
const coalesce = 100 * time.Millisecond

type paInput struct {
	stream *portaudio.Stream
	ext    extInput // instead of stream: an input PortAudio does not provide (input.go)
	buf    []float32
	name   string
	source string     // the pulse source captured ("" when not opened by pulse name)
	tag    string     // assent.capture property of its stream on the sound server
	follow followKind // followNone: fixed device
	index  int        // its source-output index on the sound server (-1: not looked up)

	overflows atomic.Int64
}

type paSource struct {
	in      []*paInput
	started bool
	closed  bool

	// Following the sound server's defaults.
	watchStop context.CancelFunc
	recheck   atomic.Bool // the watcher saw a change: resolve again
	wantMu    sync.Mutex
	cur       []string // source each input captures (under wantMu)
	switches  atomic.Int64

	router *callRouter // recording only the call app's sound (callonly_linux.go), or nil

	delay atomic.Int64 // CaptureDelay in ns, after the last Read

	ls          lockstep // two inputs kept together (drift.go); only the reader touches it
	rebaseDrift atomic.Bool
	corrections [2]atomic.Int64
}

func findDevice(name string) (*portaudio.DeviceInfo, error) {
	devs, err := portaudio.Devices()
	if err != nil {
		return nil, fmt.Errorf("audio: listing sound devices: %v", err)
	}
	if name == "" {
		d, err := portaudio.DefaultInputDevice()
		if err != nil || d == nil || d.MaxInputChannels < 1 {
			return nil, errors.New("audio: no input device — is a sound server running and a microphone connected? (`assent devices` lists what is there)")
		}
		return d, nil
	}
	if i, err := strconv.Atoi(name); err == nil {
		for _, d := range devs {
			if d.Index == i && d.MaxInputChannels > 0 {
				return d, nil
			}
		}
		return nil, fmt.Errorf("audio: there is no input device number %d (`assent devices` lists them)", i)
	}
	var matches []*portaudio.DeviceInfo
	for _, d := range devs {
		if d.MaxInputChannels < 1 {
			continue
		}
		if d.Name == name {
			return d, nil
		}
		if strings.Contains(strings.ToLower(d.Name), strings.ToLower(name)) {
			matches = append(matches, d)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return nil, fmt.Errorf("audio: no input device called %q (`assent devices` lists them)", name)
	}
	return nil, fmt.Errorf("audio: %q matches %d input devices; use the full name or the number from `assent devices`", name, len(matches))
}

func openInput(name, role string) (*paInput, error) {
	devName := name
	pulseSource := ""
	if src, ok := strings.CutPrefix(name, "pulse:"); ok {
		devName, pulseSource = "pulse", src
	}
	dev, err := findDevice(devName)
	if err != nil {
		if pulseSource != "" {
			return nil, fmt.Errorf("audio: %s %q needs the ALSA \"pulse\" device, which is missing — is PulseAudio or PipeWire running?", role, name)
		}
		return nil, fmt.Errorf("%w (%s)", err, role)
	}
	in := &paInput{buf: make([]float32, FrameSize), name: role, source: pulseSource, index: -1}
	if pulseSource != "" {
		in.tag = fmt.Sprintf("%d-%d-%s", os.Getpid(), streamSeq.Add(1), strings.ReplaceAll(role, " ", "-"))
	}
	p := portaudio.StreamParameters{
		Input:           portaudio.StreamDeviceParameters{Device: dev, Channels: 1, Latency: max(dev.DefaultHighInputLatency, minInputLatency)},
		SampleRate:      SampleRate,
		FramesPerBuffer: FrameSize,
	}
	withQuietStderr(func() {
		if pulseSource != "" {
			old, had := os.LookupEnv("PULSE_SOURCE")
			oldProp, hadProp := os.LookupEnv("PULSE_PROP")
			os.Setenv("PULSE_SOURCE", pulseSource)
			// Names the stream on the server so it can be moved when the
			// default changes (and says what it is in pavucontrol).
			os.Setenv("PULSE_PROP", strings.TrimSpace(oldProp+" assent.capture="+in.tag+" media.role=phone"))
			defer func() {
				restoreEnv("PULSE_SOURCE", old, had)
				restoreEnv("PULSE_PROP", oldProp, hadProp)
			}()
		}
		in.stream, err = portaudio.OpenStream(p, in.buf)
	})
	if err != nil {
		return nil, fmt.Errorf("audio: cannot open %s %q at 48 kHz: %v", role, dev.Name, err)
	}
	return in, nil
}

var streamSeq atomic.Int64

func restoreEnv(k, v string, had bool) {
	if had {
		os.Setenv(k, v)
	} else {
		os.Unsetenv(k)
	}
}

func (s *paSource) Channels() int { return len(s.in) }

func (s *paSource) Start() error {
	for _, in := range s.in {
		if err := in.start(); err != nil {
			return fmt.Errorf("audio: cannot start capturing the %s: %v", in.name, err)
		}
	}
	s.started = true
	s.startFollowing()
	return nil
}

// startFollowing watches the sound server when an input follows a default.
func (s *paSource) startFollowing() {
	follows := s.router != nil
	for _, in := range s.in {
		if in.follow != followNone {
			follows = true
		}
	}
	if !follows {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	events, err := WatchSoundServer(ctx)
	if err != nil {
		cancel()
		return // capture goes on with the devices it has
	}
	s.watchStop = cancel
	go func() {
		for ev := range events {
			if ev.Failed != nil {
				return
			}
			if ev.Facet != "server" && ev.Facet != "sink" && ev.Facet != "source" &&
				(s.router == nil || ev.Facet != "sink-input" || (ev.Kind != "new" && ev.Kind != "change")) {
				continue
			}
			// Changes come in bursts (a device appears: sink, source, server
			// events); ask once after the burst, still well within a second.
			time.Sleep(coalesce)
		drain:
			for {
				select {
				case ev, ok := <-events:
					if !ok || ev.Failed != nil {
						return
					}
				default:
					break drain
				}
			}
			s.resolve(ctx)
			if s.router != nil {
				_ = s.router.refresh(ctx) // a stream that ended meanwhile: the next event tries again
			}
		}
	}()
}

// resolve asks the sound server what each followed input should capture
// now and moves the input's stream there. The stream is moved by the
// server (pactl move-source-output), not reopened: no buffer is lost or
// repeated, the two channels stay in lock-step, and the pipeline never
// waits. Only this goroutine moves streams.
func (s *paSource) resolve(ctx context.Context) {
	for i, in := range s.in {
		if in.follow == followNone {
			continue
		}
		want, err := resolveFollowed(ctx, in.follow)
		s.wantMu.Lock()
		cur := s.cur[i]
		s.wantMu.Unlock()
		if err != nil || want == "" || want == cur {
			continue // keep what we have; the next event tries again
		}
		if in.index < 0 {
			idx, err := streamIndexByTag(ctx, in.tag)
			if err != nil {
				continue
			}
			in.index = idx
		}
		if _, err := pactl(ctx, "move-source-output", strconv.Itoa(in.index), want); err != nil {
			in.index = -1 // look it up again next time
			continue
		}
		s.wantMu.Lock()
		s.cur[i] = want
		s.wantMu.Unlock()
		s.switches.Add(1)
		s.rebaseDrift.Store(true) // the new device has its own latency
	}
}

// Switches counts how often capture followed a default device change.
func (s *paSource) Switches() int64 { return s.switches.Load() }

func (s *paSource) Read(buf []float32) error {
	if s.closed {
		return errors.New("audio: capture is closed")
	}
	ch := len(s.in)
	if len(buf) != FrameSize*ch {
		return fmt.Errorf("audio: read buffer of %d samples, want %d", len(buf), FrameSize*ch)
	}
	if ch == 2 {
		return s.readStereo(buf) // drift.go: two device clocks kept together
	}
	defer s.noteDelay(func(c int) (int, bool) { return s.in[c].available() })
	for c, in := range s.in {
		if err := in.read(); err != nil {
			return err
		}
		if ch == 1 {
			copy(buf, in.buf)
			continue
		}
		for i, v := range in.buf {
			buf[i*ch+c] = v
		}
	}
	return nil
}

// CaptureDelay implements CaptureClock: how long ago the last sample of the
// buffer just read was captured, by the input that lags most — the frames
// still queued behind it in PortAudio's buffer and read ahead by the drift
// compensation. (PortAudio's reported input latency is the size of that
// same buffer, not a further delay; the sound server's own few tens of ms
// are covered by the session's OpenDelay.)
func (s *paSource) CaptureDelay() time.Duration { return time.Duration(s.delay.Load()) }

// noteDelay keeps CaptureDelay from queued(c), the frames still queued
// behind input c's last buffer.
func (s *paSource) noteDelay(queued func(c int) (int, bool)) {
	var worst time.Duration
	for c := range s.in {
		if n, ok := queued(c); ok {
			worst = max(worst, time.Duration(n)*time.Second/SampleRate)
		}
	}
	s.delay.Store(int64(worst))
}

// Overflows counts, per input (microphone first), the reads that found
// audio lost because the input's buffer had overflowed.
func (s *paSource) Overflows() []int64 {
	out := make([]int64, len(s.in))
	for i, in := range s.in {
		out[i] = in.overflows.Load()
	}
	return out
}

// readStereo reads the microphone and the call input in lock-step,
// dropping a frame of the one whose clock runs ahead now and then.
func (s *paSource) readStereo(buf []float32) error {
	if s.rebaseDrift.Swap(false) {
		s.ls.drift.rebase()
	}
	// Each input's backlog is asked once per round: the drift compensation
	// and CaptureDelay both use it (plus what the round read ahead).
	var backlog [2]struct {
		n  int
		ok bool
	}
	err := s.ls.round(buf, func(c int) ([]float32, error) {
		if err := s.in[c].read(); err != nil {
			return nil, err
		}
		return s.in[c].buf, nil
	}, func(c int) (int, bool) {
		backlog[c].n, backlog[c].ok = s.in[c].available()
		return backlog[c].n, backlog[c].ok
	})
	if err == nil {
		s.noteDelay(func(c int) (int, bool) { return backlog[c].n + len(s.ls.pend[c]), backlog[c].ok })
	}
	d := s.ls.drift.corrections()
	s.corrections[0].Store(d[0])
	s.corrections[1].Store(d[1])
	return err
}

// DriftCorrections says how many frames were dropped from the microphone
// and from the call input to keep them together (drift.go).
func (s *paSource) DriftCorrections() (mic, call int64) {
	return s.corrections[0].Load(), s.corrections[1].Load()
}

func (s *paSource) sources() []string {
	out := make([]string, len(s.in))
	for i, in := range s.in {
		out[i] = in.source
	}
	return out
}

// Following reports which sound server sources are captured now (for the
// settings screen and tests); "" for an input opened by device.
func (s *paSource) Following() []string {
	s.wantMu.Lock()
	defer s.wantMu.Unlock()
	return append([]string(nil), s.cur...)
}

func (s *paSource) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.watchStop != nil {
		s.watchStop()
	}
	paMu.Lock()
	defer paMu.Unlock()
	var first error
	for _, in := range s.in {
		if s.started {
			in.abort()
		}
		if err := in.close(); err != nil && first == nil {
			first = fmt.Errorf("audio: closing the %s: %v", in.name, err)
		}
	}
	paTerminate()
	if err := s.router.close(); err != nil && first == nil {
		first = err
	}
	return first
}
