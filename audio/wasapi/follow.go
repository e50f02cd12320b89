package wasapi

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// How the capture follows the default output and keeps the call channel in
// step with the microphone.
const (
	// pollEvery is how often the default output is asked again: a headset
	// plugged in is followed within about this long.
	pollEvery = 500 * time.Millisecond
	// tick is how often captured packets are collected.
	tick = 10 * time.Millisecond
	// padAfter: when the output has delivered nothing for this long (nothing
	// plays, or the device is being reopened), the missing time is filled
	// with silence. Windows delivers no loopback packets while nothing plays;
	// packets that do come are at most a device period plus one tick late,
	// well under this.
	padAfter = 60 * time.Millisecond
	// readTimeout bounds how long Read waits for the capture goroutine
	// (starved on a loaded machine) before it hands out silence.
	readTimeout = 250 * time.Millisecond
)

// endpoints finds the default output and opens loopback capture of one
// output. On Windows it is Core Audio (MMDevice API + IAudioClient); tests
// use a fake. Every method is called from one goroutine.
type endpoints interface {
	// DefaultID names the current default output (the "console" render
	// endpoint): an id that changes when another device becomes the default.
	DefaultID() (string, error)
	// Open starts loopback capture of the output with that id.
	Open(id string) (capture, error)
}

// capture is the loopback capture of one output device.
type capture interface {
	// Drain appends to dst, as 48 kHz mono, what the device played since the
	// last call. An error means the device is gone or changed; the capture is
	// then closed and the default output opened again.
	Drain(dst []float32) ([]float32, error)
	Close()
}

// follower captures the default output, reopens the capture on the new
// default when it changes or fails, and pads with silence so that the
// queue holds, at any time, one sample per 1/48000 s since the start (less
// padAfter): the call channel never runs short or far ahead of the
// microphone. step is called every tick from one goroutine.
type follower struct {
	ep    endpoints
	q     *queue
	id    string  // output captured now ("" while none is open)
	cur   capture // nil while none is open
	start time.Time
	due   int64 // samples handed to the queue since start
	poll  time.Time
	buf   []float32

	switches atomic.Int64 // captures of a new default output after the first
	reopens  atomic.Int64 // opens after a failure of the device
	lastErr  atomic.Value // error: why the output could not be opened (nil once it is)
}

// begin opens the default output; its error is Open's: a rep must learn at
// once that the other side cannot be recorded.
func (f *follower) begin(now time.Time) error {
	id, err := f.ep.DefaultID()
	if err != nil {
		return err
	}
	c, err := f.ep.Open(id)
	if err != nil {
		return err
	}
	f.id, f.cur, f.start, f.poll = id, c, now, now
	return nil
}

// restart makes now the start of the timeline: called when capture starts
// (Loopback.Start), so what was captured before does not delay the call
// channel.
func (f *follower) restart(now time.Time) {
	f.start, f.due = now, 0
	f.q.reset()
}

// step collects what was captured, follows a change of the default output
// and pads silence up to now - padAfter.
func (f *follower) step(now time.Time) {
	if f.cur != nil {
		var err error
		f.buf, err = f.cur.Drain(f.buf[:0])
		f.q.push(f.buf)
		f.due += int64(len(f.buf))
		if err != nil {
			// Unplugged or its format changed: open the default again now.
			f.lastErr.Store(errBox{err})
			f.cur.Close()
			f.cur, f.id = nil, ""
			f.poll = time.Time{}
		}
	}
	if now.Sub(f.poll) >= pollEvery {
		f.poll = now
		f.follow()
	}
	if want := int64(now.Sub(f.start)-padAfter) * SampleRate / int64(time.Second); f.due < want {
		f.q.push(make([]float32, want-f.due))
		f.due = want
	}
}

// follow reopens the capture when the default output is another one, or
// when none is open (the last one failed). A failed open is tried again at
// the next poll; meanwhile the call channel is silence.
func (f *follower) follow() {
	id, err := f.ep.DefaultID()
	if err != nil {
		f.lastErr.Store(errBox{err})
		return
	}
	if id == f.id && f.cur != nil {
		return
	}
	c, err := f.ep.Open(id)
	if err != nil {
		f.lastErr.Store(errBox{err})
		return
	}
	if f.cur != nil {
		f.cur.Close()
		f.switches.Add(1)
	} else {
		f.reopens.Add(1)
	}
	f.cur, f.id = c, id
	f.lastErr.Store(errBox{})
}

func (f *follower) stop() {
	if f.cur != nil {
		f.cur.Close()
		f.cur = nil
	}
}

// errBox lets atomic.Value hold a nil error.
type errBox struct{ err error }

// Loopback captures what the computer plays on its default output, follows
// the default to another device, and has the method set of audio.Source
// (mono). Safe for one reader; Close may be called from any goroutine.
type Loopback struct {
	f       *follower
	q       *queue
	startCh chan struct{}
	stopCh  chan struct{}
	done    chan struct{}
	once    sync.Once
	started sync.Once
	first   atomic.Bool // the first Read has happened
}

// runLoopback starts capture with ep on a goroutine of its own; setup runs
// first on that goroutine (Windows: lock the OS thread, join COM) and
// returns the endpoints and a cleanup. Open returns when the default output
// is open or could not be.
func runLoopback(setup func() (endpoints, func(), error), now func() time.Time) (*Loopback, error) {
	l := &Loopback{q: newQueue(), startCh: make(chan struct{}), stopCh: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(l.done)
		ep, cleanup, err := setup()
		if err != nil {
			ready <- err
			return
		}
		defer cleanup()
		f := &follower{ep: ep, q: l.q}
		if err := f.begin(now()); err != nil {
			ready <- err
			return
		}
		defer f.stop()
		l.f = f
		ready <- nil
		t := time.NewTicker(tick)
		defer t.Stop()
		startCh := l.startCh
		for {
			select {
			case <-l.stopCh:
				return
			case <-startCh:
				startCh = nil // fires once
				f.restart(now())
			case <-t.C:
				f.step(now())
			}
		}
	}()
	if err := <-ready; err != nil {
		<-l.done
		return nil, err
	}
	return l, nil
}

// Channels is 1: the call, mixed to mono.
func (l *Loopback) Channels() int { return 1 }

// Start makes now the first sample of the call channel (capture itself
// runs from Open, so the device is known to work before the microphone
// starts).
func (l *Loopback) Start() error {
	l.started.Do(func() {
		select {
		case l.startCh <- struct{}{}:
		case <-l.done:
		}
	})
	return nil
}

// Read fills buf (FrameSize samples) with what the output played; silence
// where nothing played. The first Read keeps only the newest buffer: the
// microphone's first buffer can come a second or two after Start, and the
// call channel must start at the same moment.
func (l *Loopback) Read(buf []float32) error {
	if len(buf) != FrameSize {
		return fmt.Errorf("wasapi: read buffer of %d samples, want %d", len(buf), FrameSize)
	}
	if !l.first.Swap(true) {
		l.q.keepNewest(FrameSize)
	}
	return l.q.read(buf, readTimeout)
}

// Switches counts how often capture moved to a new default output.
func (l *Loopback) Switches() int64 { return l.f.switches.Load() }

// Close stops capture and releases the device.
func (l *Loopback) Close() error {
	l.once.Do(func() { close(l.stopCh) })
	<-l.done
	l.q.fail(errClosed)
	return nil
}
