//go:build windows

package wasapi

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// COM identities (mmdeviceapi.h, audioclient.h, ksmedia.h).
var (
	clsidMMDeviceEnumerator = windows.GUID{Data1: 0xBCDE0395, Data2: 0xE52F, Data3: 0x467C, Data4: [8]byte{0x8E, 0x3D, 0xC4, 0x57, 0x92, 0x91, 0x69, 0x2E}}
	iidIMMDeviceEnumerator  = windows.GUID{Data1: 0xA95664D2, Data2: 0x9614, Data3: 0x4F35, Data4: [8]byte{0xA7, 0x46, 0xDE, 0x8D, 0xB6, 0x36, 0x17, 0xE6}}
	iidIAudioClient         = windows.GUID{Data1: 0x1CB9AD4C, Data2: 0xDBFA, Data3: 0x4C32, Data4: [8]byte{0xB1, 0x78, 0xC2, 0xF5, 0x68, 0xA7, 0x03, 0xB2}}
	iidIAudioCaptureClient  = windows.GUID{Data1: 0xC8ADBD64, Data2: 0xE71E, Data3: 0x48A0, Data4: [8]byte{0xA4, 0xDE, 0x18, 0x5C, 0x39, 0x5C, 0xD3, 0x17}}
	subtypePCM              = windows.GUID{Data1: 0x00000001, Data2: 0x0000, Data3: 0x0010, Data4: [8]byte{0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}}
	subtypeFloat            = windows.GUID{Data1: 0x00000003, Data2: 0x0000, Data3: 0x0010, Data4: [8]byte{0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}}
)

const (
	clsctxAll                   = 0x17
	eRender, eConsole           = 0, 0
	sharemodeShared             = 0
	streamflagsLoopback         = 0x00020000
	streamflagsAutoConvertPCM   = 0x80000000
	streamflagsSrcDefaultQual   = 0x08000000
	bufferflagsSilent           = 0x2
	waveFormatPCM               = 1
	waveFormatIEEEFloat         = 3
	waveFormatExtensible        = 0xFFFE
	hnsBuffer                   = 2_000_000 // 200 ms in 100 ns units
	eNotFound                   = 0x80070490
	audclntEWrongEndpointType   = 0x88890003
	audclntEDeviceInvalidated   = 0x88890004
	audclntEUnsupportedFormat   = 0x88890008
	audclntEServiceNotRunning   = 0x88890010
	rpcEChangedMode             = 0x80010106
	vtblRelease                 = 2
	enumGetDefaultAudioEndpoint = 4
	enumGetDevice               = 5
	devActivate                 = 3
	devOpenPropertyStore        = 4
	devGetID                    = 5
	psGetValue                  = 5
	stgmRead                    = 0
	vtLPWSTR                    = 31
	acInitialize                = 3
	acGetMixFormat              = 8
	acStart                     = 10
	acStop                      = 11
	acGetService                = 14
	ccGetBuffer                 = 3
	ccReleaseBuffer             = 4
	ccGetNextPacketSize         = 5
)

var (
	ole32                = windows.NewLazySystemDLL("ole32.dll")
	procCoCreateInstance = ole32.NewProc("CoCreateInstance")
	procPropVariantClear = ole32.NewProc("PropVariantClear")
)

// waveFormat is WAVEFORMATEXTENSIBLE (its first 18 bytes are WAVEFORMATEX).
type waveFormat struct {
	FormatTag      uint16
	Channels       uint16
	SamplesPerSec  uint32
	AvgBytesPerSec uint32
	BlockAlign     uint16
	BitsPerSample  uint16
	CbSize         uint16
	ValidBits      uint16
	ChannelMask    uint32
	SubFormat      windows.GUID
}

// comObject is any COM interface pointer: a pointer to its vtable.
type comObject struct{ vtbl *[32]uintptr }

func (o *comObject) call(method int, args ...uintptr) uint32 {
	r, _, _ := syscall.SyscallN(o.vtbl[method], append([]uintptr{uintptr(unsafe.Pointer(o))}, args...)...)
	return uint32(r)
}

func (o *comObject) release() {
	if o != nil {
		o.call(vtblRelease)
	}
}

func failed(hr uint32) bool { return int32(hr) < 0 }

// hrError turns a failed HRESULT into a sentence for a rep.
func hrError(what string, hr uint32) error {
	var why string
	switch hr {
	case eNotFound:
		why = "there is no output device; connect speakers or a headset"
	case audclntEWrongEndpointType:
		why = "this system cannot capture what it plays (no WASAPI loopback; Wine has none)"
	case audclntEDeviceInvalidated:
		why = "the output device was removed or changed; start the recording again"
	case audclntEServiceNotRunning:
		why = "the Windows Audio service is not running; start it (services.msc › Windows Audio)"
	case audclntEUnsupportedFormat:
		why = "the output device's format is not supported"
	default:
		why = fmt.Sprintf("Windows error 0x%08X", hr)
	}
	return fmt.Errorf("wasapi: %s: %s", what, why)
}

// Open starts capturing what Windows plays on the default output device
// (the default "console" render endpoint), converted by Windows to 48 kHz
// where it can, else the device must already run at 48 kHz. The capture
// follows the default output to another device (a headset plugged in)
// within pollEvery. The error says in plain words why the output cannot be
// captured (no loopback on this system, no output device, …).
func Open() (*Loopback, error) {
	return runLoopback(comSetup, time.Now)
}

// comSetup locks the capture goroutine to its OS thread, joins COM there
// and opens the device enumerator; every COM object lives on that thread.
func comSetup() (endpoints, func(), error) {
	runtime.LockOSThread()
	uninit := func() {}
	switch hr := uint32(windowsCoInit()); {
	case !failed(hr):
		uninit = windows.CoUninitialize
	case hr != rpcEChangedMode: // a single-threaded apartment works as well
		runtime.UnlockOSThread()
		return nil, nil, hrError("starting COM", hr)
	}
	en, err := newEnumerator()
	if err != nil {
		uninit()
		runtime.UnlockOSThread()
		return nil, nil, err
	}
	return &comEndpoints{en: en}, func() {
		en.release()
		uninit()
		runtime.UnlockOSThread()
	}, nil
}

func newEnumerator() (*comObject, error) {
	var en *comObject
	r, _, _ := procCoCreateInstance.Call(uintptr(unsafe.Pointer(&clsidMMDeviceEnumerator)), 0, clsctxAll,
		uintptr(unsafe.Pointer(&iidIMMDeviceEnumerator)), uintptr(unsafe.Pointer(&en)))
	if failed(uint32(r)) {
		return nil, hrError("opening the list of sound devices", uint32(r))
	}
	return en, nil
}

// comEndpoints is the Core Audio side of endpoints.
type comEndpoints struct{ en *comObject }

func (c *comEndpoints) DefaultID() (string, error) {
	dev, err := defaultOutput(c.en)
	if err != nil {
		return "", err
	}
	defer dev.release()
	var p *uint16
	if hr := dev.call(devGetID, uintptr(unsafe.Pointer(&p))); failed(hr) || p == nil {
		return "", hrError("naming the default output device", hr)
	}
	defer windows.CoTaskMemFree(unsafe.Pointer(p))
	return windows.UTF16PtrToString(p), nil
}

func defaultOutput(en *comObject) (*comObject, error) {
	var dev *comObject
	if hr := en.call(enumGetDefaultAudioEndpoint, eRender, eConsole, uintptr(unsafe.Pointer(&dev))); failed(hr) {
		return nil, hrError("finding the default output device", hr)
	}
	return dev, nil
}

func (c *comEndpoints) Open(id string) (capture, error) {
	wid, err := windows.UTF16PtrFromString(id)
	if err != nil {
		return nil, err
	}
	var dev *comObject
	if hr := c.en.call(enumGetDevice, uintptr(unsafe.Pointer(wid)), uintptr(unsafe.Pointer(&dev))); failed(hr) {
		return nil, hrError("opening the default output device", hr)
	}
	defer dev.release()
	k := &comCapture{}
	ac, err := k.initialize(dev)
	if err != nil {
		return nil, err
	}
	var cc *comObject
	if hr := ac.call(acGetService, uintptr(unsafe.Pointer(&iidIAudioCaptureClient)), uintptr(unsafe.Pointer(&cc))); failed(hr) {
		ac.release()
		return nil, hrError("capturing the default output", hr)
	}
	if hr := ac.call(acStart); failed(hr) {
		cc.release()
		ac.release()
		return nil, hrError("starting the capture of the default output", hr)
	}
	k.ac, k.cc = ac, cc
	return k, nil
}

// comCapture is the loopback capture of one output device.
type comCapture struct {
	ac, cc   *comObject
	format   sampleFormat
	channels int
}

func (k *comCapture) Drain(mono []float32) ([]float32, error) {
	for {
		var n uint32
		if hr := k.cc.call(ccGetNextPacketSize, uintptr(unsafe.Pointer(&n))); failed(hr) {
			return mono, hrError("capturing the default output", hr)
		}
		if n == 0 {
			return mono, nil
		}
		var data *byte
		var frames, flags uint32
		if hr := k.cc.call(ccGetBuffer, uintptr(unsafe.Pointer(&data)), uintptr(unsafe.Pointer(&frames)),
			uintptr(unsafe.Pointer(&flags)), 0, 0); failed(hr) {
			return mono, hrError("capturing the default output", hr)
		}
		if flags&bufferflagsSilent != 0 || data == nil {
			mono = append(mono, make([]float32, frames)...)
		} else {
			b := unsafe.Slice(data, int(frames)*k.channels*k.format.bytes())
			mono = downmix(mono, b, k.channels, k.format)
		}
		k.cc.call(ccReleaseBuffer, uintptr(frames))
	}
}

func (k *comCapture) Close() {
	k.ac.call(acStop)
	k.cc.release()
	k.ac.release()
}

// DefaultOutputName is the friendly name of the default output device
// ("Speakers (Realtek High Definition Audio)"), for the settings' "What this
// computer plays (…)". It is "" where it cannot be had.
func DefaultOutputName() string {
	name := make(chan string, 1)
	go func() {
		ep, cleanup, err := comSetup()
		if err != nil {
			name <- ""
			return
		}
		defer cleanup()
		name <- friendlyName(ep.(*comEndpoints).en)
	}()
	return <-name
}

func friendlyName(en *comObject) string {
	dev, err := defaultOutput(en)
	if err != nil {
		return ""
	}
	defer dev.release()
	var store *comObject
	if hr := dev.call(devOpenPropertyStore, stgmRead, uintptr(unsafe.Pointer(&store))); failed(hr) || store == nil {
		return ""
	}
	defer store.release()
	var v propVariant
	if hr := store.call(psGetValue, uintptr(unsafe.Pointer(&pkeyDeviceFriendlyName)), uintptr(unsafe.Pointer(&v))); failed(hr) {
		return ""
	}
	defer procPropVariantClear.Call(uintptr(unsafe.Pointer(&v)))
	if v.vt != vtLPWSTR || v.val == nil {
		return ""
	}
	return windows.UTF16PtrToString(v.val)
}

// propVariant is PROPVARIANT (24 bytes on x86-64); only VT_LPWSTR is read.
type propVariant struct {
	vt      uint16
	_, _, _ uint16
	val     *uint16 // pwszVal (memory of COM, freed by PropVariantClear)
	_       uintptr
}

// pkeyDeviceFriendlyName is PKEY_Device_FriendlyName (functiondiscoverykeys_devpkey.h).
var pkeyDeviceFriendlyName = struct {
	fmtid windows.GUID
	pid   uint32
}{windows.GUID{Data1: 0xa45c254e, Data2: 0xdf1c, Data3: 0x4efd, Data4: [8]byte{0x80, 0x20, 0x67, 0xd1, 0x46, 0xa8, 0x50, 0xe0}}, 14}

// initialize asks for 48 kHz mono float with Windows converting (Windows 10
// and later); if refused, it takes the device's own mix format, which must
// run at 48 kHz.
func (l *comCapture) initialize(dev *comObject) (*comObject, error) {
	activate := func() (*comObject, error) {
		var ac *comObject
		if hr := dev.call(devActivate, uintptr(unsafe.Pointer(&iidIAudioClient)), clsctxAll, 0, uintptr(unsafe.Pointer(&ac))); failed(hr) {
			return nil, hrError("opening the default output", hr)
		}
		return ac, nil
	}
	ac, err := activate()
	if err != nil {
		return nil, err
	}
	want := waveFormat{FormatTag: waveFormatExtensible, Channels: 1, SamplesPerSec: SampleRate,
		AvgBytesPerSec: SampleRate * 4, BlockAlign: 4, BitsPerSample: 32, CbSize: 22, ValidBits: 32,
		ChannelMask: 0x4 /* front centre */, SubFormat: subtypeFloat}
	hr := ac.call(acInitialize, sharemodeShared, streamflagsLoopback|streamflagsAutoConvertPCM|streamflagsSrcDefaultQual,
		hnsBuffer, 0, uintptr(unsafe.Pointer(&want)), 0)
	if !failed(hr) {
		l.format, l.channels = float32LE, 1
		return ac, nil
	}
	ac.release()
	if ac, err = activate(); err != nil {
		return nil, err
	}
	var mix *waveFormat
	if hr := ac.call(acGetMixFormat, uintptr(unsafe.Pointer(&mix))); failed(hr) || mix == nil {
		ac.release()
		return nil, hrError("reading the default output's format", hr)
	}
	defer windows.CoTaskMemFree(unsafe.Pointer(mix))
	f, err := formatOf(mix)
	if err != nil {
		ac.release()
		return nil, err
	}
	if hr := ac.call(acInitialize, sharemodeShared, streamflagsLoopback, hnsBuffer, 0, uintptr(unsafe.Pointer(mix)), 0); failed(hr) {
		ac.release()
		return nil, hrError("starting the capture of the default output", hr)
	}
	l.format, l.channels = f, int(mix.Channels)
	return ac, nil
}

func formatOf(w *waveFormat) (sampleFormat, error) {
	tag, sub := w.FormatTag, windows.GUID{}
	if tag == waveFormatExtensible && w.CbSize >= 22 {
		sub = w.SubFormat
	}
	var f sampleFormat
	switch {
	case (tag == waveFormatIEEEFloat || sub == subtypeFloat) && w.BitsPerSample == 32:
		f = float32LE
	case (tag == waveFormatPCM || sub == subtypePCM) && w.BitsPerSample == 16:
		f = int16LE
	case (tag == waveFormatPCM || sub == subtypePCM) && w.BitsPerSample == 32:
		f = int32LE
	default:
		return 0, fmt.Errorf("wasapi: the default output uses a sample format Assent cannot read (%d-bit, tag 0x%X); choose 24-bit or 16-bit in Sound settings › the device › Advanced", w.BitsPerSample, tag)
	}
	if w.SamplesPerSec != SampleRate {
		return 0, fmt.Errorf("wasapi: the default output runs at %d Hz and this Windows cannot convert it; set it to 48000 Hz in Sound settings › the device › Advanced", w.SamplesPerSec)
	}
	if w.Channels < 1 || int(w.BlockAlign) != int(w.Channels)*f.bytes() {
		return 0, errors.New("wasapi: the default output reports an inconsistent format")
	}
	return f, nil
}

// windowsCoInit joins the process's multithreaded apartment.
func windowsCoInit() int32 {
	if err := windows.CoInitializeEx(0, windows.COINIT_MULTITHREADED); err != nil {
		if e, ok := err.(syscall.Errno); ok {
			return int32(uint32(e))
		}
		return -1
	}
	return 0
}
