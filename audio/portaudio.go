package audio

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

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

// CaptureConfig chooses what to capture.
type CaptureConfig struct {
	// Input is the microphone: "" for the default input, a device name as
	// listed by Devices, its index, or "pulse:SOURCE" for a PulseAudio /
	// PipeWire source by name (through the ALSA "pulse" device).
	Input string
	// CallInput, if set, is the call's audio (same syntax as Input), e.g.
	// "pulse:alsa_output.pci-0000_00_1f.3.analog-stereo.monitor". It is
	// recorded as the right channel; the microphone is the left.
	CallInput string
}

// OpenCapture opens the configured inputs as a Source (mono, or stereo
// with CallInput). The first buffer arrives 0.3–2 s after Start.
func OpenCapture(cfg CaptureConfig) (Source, error) {
	paMu.Lock()
	defer paMu.Unlock()
	if err := paInit(); err != nil {
		return nil, err
	}
	s := &paSource{}
	mic, err := openInput(cfg.Input, "microphone")
	if err != nil {
		paTerminate()
		return nil, err
	}
	s.in = append(s.in, mic)
	if cfg.CallInput != "" {
		call, err := openInput(cfg.CallInput, "call audio")
		if err != nil {
			mic.stream.Close()
			paTerminate()
			return nil, err
		}
		s.in = append(s.in, call)
	}
	return s, nil
}

type paInput struct {
	stream *portaudio.Stream
	buf    []float32
	name   string
}

type paSource struct {
	in      []*paInput
	started bool
	closed  bool
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
	in := &paInput{buf: make([]float32, FrameSize), name: role}
	p := portaudio.StreamParameters{
		Input:           portaudio.StreamDeviceParameters{Device: dev, Channels: 1, Latency: dev.DefaultHighInputLatency},
		SampleRate:      SampleRate,
		FramesPerBuffer: FrameSize,
	}
	withQuietStderr(func() {
		if pulseSource != "" {
			old, had := os.LookupEnv("PULSE_SOURCE")
			os.Setenv("PULSE_SOURCE", pulseSource)
			defer func() {
				if had {
					os.Setenv("PULSE_SOURCE", old)
				} else {
					os.Unsetenv("PULSE_SOURCE")
				}
			}()
		}
		in.stream, err = portaudio.OpenStream(p, in.buf)
	})
	if err != nil {
		return nil, fmt.Errorf("audio: cannot open %s %q at 48 kHz: %v", role, dev.Name, err)
	}
	return in, nil
}

func (s *paSource) Channels() int { return len(s.in) }

func (s *paSource) Start() error {
	for _, in := range s.in {
		if err := in.stream.Start(); err != nil {
			return fmt.Errorf("audio: cannot start capturing the %s: %v", in.name, err)
		}
	}
	s.started = true
	return nil
}

func (s *paSource) Read(buf []float32) error {
	if s.closed {
		return errors.New("audio: capture is closed")
	}
	ch := len(s.in)
	if len(buf) != FrameSize*ch {
		return fmt.Errorf("audio: read buffer of %d samples, want %d", len(buf), FrameSize*ch)
	}
	for c, in := range s.in {
		if err := in.stream.Read(); err != nil && !errors.Is(err, portaudio.InputOverflowed) {
			return fmt.Errorf("audio: capturing the %s failed (%v) — was the device unplugged or the sound server stopped?", in.name, err)
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

func (s *paSource) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	paMu.Lock()
	defer paMu.Unlock()
	var first error
	for _, in := range s.in {
		if s.started {
			_ = in.stream.Abort()
		}
		if err := in.stream.Close(); err != nil && first == nil {
			first = fmt.Errorf("audio: closing the %s: %v", in.name, err)
		}
	}
	paTerminate()
	return first
}
