package app

import (
	"errors"
	"fmt"
	"image/color"
	"os"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/assent-app/assent/internal/sessionbus"
)

// UI is the main window and its screens. Build it with New; all methods run
// on the Fyne goroutine.
type UI struct {
	app fyne.App
	win fyne.Window
	b   Backend

	settings Settings
	demo     bool // running over a stand-in backend (Demo() true): say so

	// live is true in a real app: background pollers run and update the
	// screens through fyne.Do. Tests drive refresh by hand instead.
	live bool

	screen string                       // name of the current screen
	el     map[string]fyne.CanvasObject // stable, named elements of the current screen
	leave  []func()                     // cleanup of the current screen (meters, pollers)

	tabs *container.AppTabs

	// call state
	call        Call
	callTitle   string
	callDevices []string // names of the metered inputs, in CallState.Levels order
	lastPhase   Phase
	refresh     func() // refreshes the current screen from the backend
	tray        bool
	trayStop    *fyne.MenuItem
	trayStatus  *fyne.MenuItem     // idle, asking, recording, paused
	chooseDir   func(func(string)) // picks an export folder (replaced in tests)
	automation  string             // ASSENT_AUTOMATION file, or ""
	joinDialog  dialog.Dialog
	linkDialog  dialog.Dialog // the open consent link dialog, if any

	callSetup  *CallSetup // the setup of the call in progress (noretype.go)
	retrySetup *CallSetup // the setup of a call that ended unrecorded, shown again

	checks startupChecks // checks.go
	shown  bool          // the event loop runs and the window is shown
}

// Preference keys. Secrets (the enrolment code, keys) are never stored here.
const (
	prefFirstRunDone = "firstRunDone"
	prefInput        = "inputDevice"
	prefCallInput    = "callDevice"
	prefServer       = "serverURL"
	prefRetention    = "retentionDays"
	prefChime        = "chime"
	prefBeep         = "beep"
	prefMinAge       = "minimumAge"
	prefOrgNotice    = "orgNotice"
	prefLanguage     = "language"
)

// New builds the UI over b in a and returns it with its window shown.
// live starts background refreshes (a real app); tests pass false and call
// Refresh.
func New(a fyne.App, b Backend, live bool) (*UI, error) {
	if err := loadTranslations(); err != nil {
		return nil, err
	}
	u := &UI{app: a, b: b, live: live, automation: os.Getenv("ASSENT_AUTOMATION")}
	if d, ok := b.(interface{ Demo() bool }); ok {
		u.demo = d.Demo()
	}
	u.settings = u.loadSettings()
	setUILanguage(u.settings.Language)
	if err := b.Apply(u.settings); err != nil {
		// Bad stored settings must not lock the user out: fall back.
		u.settings = defaultSettings()
		_ = b.Apply(u.settings)
	}
	u.win = a.NewWindow("Assent")
	u.win.Resize(fyne.NewSize(1000, 700))
	u.win.SetMaster()
	u.chooseDir = func(done func(string)) {
		d := dialog.NewFolderOpen(func(l fyne.ListableURI, err error) {
			if err != nil {
				u.showErr(err)
				return
			}
			if l != nil {
				done(l.Path())
			}
		}, u.win)
		d.Resize(fyne.NewSize(800, 560))
		d.Show()
	}
	u.win.SetCloseIntercept(u.onClose)
	u.setupTray()
	// Window first: nothing slow before the first screen is shown. The
	// first-run screen runs the checks itself; otherwise they run in the
	// background and a problem is reported when they are done.
	if !a.Preferences().Bool(prefFirstRunDone) {
		u.showFirstRun()
	} else {
		u.showHome(0)
		u.runChecks(u.startupChecked)
	}
	u.win.Show()
	u.startCallWatch() // callaudio: callwatch.go (after the first screen)
	if live {
		// Runs once the event loop runs, that is after the window was shown:
		// the automation file then marks the first drawn screen.
		go fyne.Do(func() { u.shown = true; u.writeAutomation() })
	}
	if u.automation != "" && live {
		// Layout settles after SetContent; keep the file current.
		go func() {
			for range time.Tick(300 * time.Millisecond) {
				fyne.Do(u.writeAutomation)
			}
		}()
	}
	return u, nil
}

// Window returns the main window.
func (u *UI) Window() fyne.Window { return u.win }

// Refresh updates the current screen from the backend (the live pollers
// call it; tests call it by hand).
func (u *UI) Refresh() {
	if u.refresh != nil {
		u.refresh()
	}
}

func allOK(cs []Check) bool {
	for _, c := range cs {
		if !c.OK {
			return false
		}
	}
	return true
}

func defaultSettings() Settings {
	return Settings{RetentionDays: 1095, MinimumAge: 16, Chime: true}
}

func (u *UI) loadSettings() Settings {
	p := u.app.Preferences()
	d := defaultSettings()
	return Settings{
		InputDevice:   p.String(prefInput),
		CallDevice:    p.String(prefCallInput),
		ServerURL:     p.String(prefServer),
		RetentionDays: p.IntWithFallback(prefRetention, d.RetentionDays),
		Chime:         p.BoolWithFallback(prefChime, d.Chime),
		Beep:          p.Bool(prefBeep),
		MinimumAge:    p.IntWithFallback(prefMinAge, d.MinimumAge),
		OrgNotice:     p.String(prefOrgNotice),
		Language:      p.String(prefLanguage),
	}
}

func (u *UI) saveSettings(s Settings) {
	p := u.app.Preferences()
	p.SetString(prefInput, s.InputDevice)
	p.SetString(prefCallInput, s.CallDevice)
	p.SetString(prefServer, s.ServerURL)
	p.SetInt(prefRetention, s.RetentionDays)
	p.SetBool(prefChime, s.Chime)
	p.SetBool(prefBeep, s.Beep)
	p.SetInt(prefMinAge, s.MinimumAge)
	p.SetString(prefOrgNotice, s.OrgNotice)
	p.SetString(prefLanguage, s.Language)
}

// setScreen replaces the window content, running the old screen's cleanup.
func (u *UI) setScreen(name string, content fyne.CanvasObject, el map[string]fyne.CanvasObject) {
	for _, f := range u.leave {
		f()
	}
	u.leave = nil
	u.refresh = nil
	u.screen = name
	u.el = el
	if u.demo {
		banner := widget.NewLabelWithStyle(lang.L("Demo mode — nothing is recorded"), fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
		content = container.NewBorder(banner, nil, nil, nil, content)
	}
	u.win.SetContent(content)
	u.updateTitle()
	u.writeAutomation()
}

// every runs f on the Fyne goroutine every d while the screen is shown
// (live only). The returned func stops it; leaving the screen stops it too.
func (u *UI) every(d time.Duration, f func()) (stop func()) {
	if !u.live {
		return func() {}
	}
	done := make(chan struct{})
	var once sync.Once
	stop = func() { once.Do(func() { close(done) }) }
	u.leave = append(u.leave, stop)
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fyne.Do(func() {
					select {
					case <-done:
					default:
						f()
					}
				})
			}
		}
	}()
	return stop
}

// showErr shows err as a dialog in plain language.
func (u *UI) showErr(err error) {
	if err == nil {
		return
	}
	d := dialog.NewError(errors.New(plainErr(err)), u.win)
	d.Show()
}

func (u *UI) showInfo(title, msg string) {
	l := widget.NewLabel(msg)
	l.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustom(title, lang.L("OK"), l, u.win)
	d.Resize(fyne.NewSize(480, 200))
	d.Show()
}

// updateTitle shows the recording state in the window title and tray.
func (u *UI) updateTitle() {
	title := "Assent"
	stopEnabled := false
	status := lang.L("Not recording")
	if u.call != nil {
		s := u.call.State()
		switch s.Phase {
		case PhaseRecording:
			status = fmt.Sprintf("● %s %s", lang.L("Recording"), clock(s.Recorded))
			stopEnabled = true
		case PhasePaused:
			status = fmt.Sprintf("❚❚ %s %s", lang.L("Paused"), clock(s.Recorded))
			stopEnabled = true
		case PhaseHeld:
			status = fmt.Sprintf("❚❚ %s", lang.L("Waiting for consent"))
			stopEnabled = true
		case PhaseAsking:
			status = lang.L("Asking for consent")
		}
		if s.Phase != PhaseEnded {
			title = status + " — Assent"
		}
	}
	if u.demo {
		title += " (" + lang.L("demo") + ")"
	}
	if u.win.Title() != title {
		u.win.SetTitle(title)
	}
	if u.trayStop != nil && (u.trayStop.Disabled == stopEnabled || u.trayStatus.Label != status) {
		u.trayStop.Disabled = !stopEnabled
		u.trayStatus.Label = status
		u.setTrayMenu()
	}
}

// hasSessionBus says whether a D-Bus session bus exists; without one the
// system tray panics on quit (fyne issue 6403), so no tray is set up.
func hasSessionBus() bool { return sessionbus.Available() == nil }

func (u *UI) setupTray() {
	if _, ok := u.app.(desktop.App); !ok || !u.live || !hasSessionBus() {
		return
	}
	u.enableTray()
}

// enableTray puts Assent in the system tray: its status (idle, asking,
// recording, paused), Show Assent, and a quick Stop while a call runs.
func (u *UI) enableTray() {
	u.tray = true
	u.trayStatus = fyne.NewMenuItem(lang.L("Not recording"), nil)
	u.trayStatus.Disabled = true // a status line, not an action
	u.trayStop = fyne.NewMenuItem(lang.L("Stop recording"), func() { u.stopCall() })
	u.trayStop.Disabled = true
	u.setTrayMenu()
}

func (u *UI) setTrayMenu() {
	if !u.tray {
		return
	}
	d := u.app.(desktop.App)
	show := fyne.NewMenuItem(lang.L("Show Assent"), func() { u.win.Show(); u.win.RequestFocus() })
	d.SetSystemTrayMenu(fyne.NewMenu("Assent", u.trayStatus, fyne.NewMenuItemSeparator(), show, u.trayStop))
	d.SetSystemTrayIcon(u.app.Icon())
}

// showHome shows the tabs: new call, library, settings.
func (u *UI) showHome(tab int) {
	u.call = nil
	el := map[string]fyne.CanvasObject{}
	newCall := u.newCallScreen(el)
	lib := u.libraryScreen(el)
	set := u.settingsScreen(el)
	u.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon(lang.L("New call"), theme.MediaRecordIcon(), newCall.obj),
		container.NewTabItemWithIcon(lang.L("Library"), theme.FolderIcon(), lib.obj),
		container.NewTabItemWithIcon(lang.L("Settings"), theme.SettingsIcon(), set.obj),
	)
	u.tabs.SelectIndex(tab)
	screens := []*screen{newCall, lib, set}
	names := []string{"new-call", "library", "settings"}
	activate := func(i int) {
		for j, s := range screens {
			if j != i && s.active {
				s.active = false
				if s.onHide != nil {
					s.onHide()
				}
			}
		}
		s := screens[i]
		s.active = true
		if s.onShow != nil {
			s.onShow()
		}
		u.refresh = s.refresh
		u.screen = names[i]
		u.writeAutomation()
	}
	u.tabs.OnSelected = func(t *container.TabItem) { activate(u.tabs.SelectedIndex()) }
	u.setScreen(names[tab], u.tabs, el)
	u.leave = append(u.leave, func() {
		for _, s := range screens {
			if s.active && s.onHide != nil {
				s.onHide()
			}
			s.active = false
		}
	})
	activate(tab)
}

// screen is one tab's content and lifecycle.
type screen struct {
	obj     fyne.CanvasObject
	onShow  func()
	onHide  func()
	refresh func()
	active  bool
}

// clock formats a duration as H:MM:SS or M:SS.
func clock(d time.Duration) string {
	s := int(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// size formats bytes for people.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// heading is a large bold label.
func heading(s string) *widget.Label {
	l := widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.SizeName = theme.SizeNameSubHeadingText
	return l
}

func wrapLabel(s string) *widget.Label {
	l := widget.NewLabel(s)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// meter is a horizontal level meter: green, amber near clipping, red at it.
type meter struct {
	widget.BaseWidget
	level float64
	bg    *canvas.Rectangle
	bar   *canvas.Rectangle
}

func newMeter() *meter {
	m := &meter{bg: canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground)), bar: canvas.NewRectangle(color.NRGBA{0x2e, 0xa0, 0x43, 0xff})}
	m.bg.CornerRadius = 4
	m.bar.CornerRadius = 4
	m.ExtendBaseWidget(m)
	return m
}

// SetLevel sets the level, 0..1.
func (m *meter) SetLevel(v float64) {
	if v < 0 {
		v = 0
	}
	if v > 1 {
		v = 1
	}
	if v == m.level {
		return
	}
	m.level = v
	m.Refresh()
}

func (m *meter) CreateRenderer() fyne.WidgetRenderer {
	return &meterRenderer{m: m}
}

type meterRenderer struct{ m *meter }

func (r *meterRenderer) Layout(s fyne.Size) {
	r.m.bg.Resize(s)
	r.m.bar.Resize(fyne.NewSize(s.Width*float32(r.m.level), s.Height))
}
func (r *meterRenderer) MinSize() fyne.Size { return fyne.NewSize(160, 14) }
func (r *meterRenderer) Refresh() {
	switch {
	case r.m.level > 0.95:
		r.m.bar.FillColor = color.NRGBA{0xd9, 0x30, 0x25, 0xff}
	case r.m.level > 0.75:
		r.m.bar.FillColor = color.NRGBA{0xe8, 0xa3, 0x17, 0xff}
	default:
		r.m.bar.FillColor = color.NRGBA{0x2e, 0xa0, 0x43, 0xff}
	}
	r.m.bg.FillColor = theme.Color(theme.ColorNameInputBackground)
	r.Layout(r.m.Size())
	r.m.bg.Refresh()
	r.m.bar.Refresh()
}
func (r *meterRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.m.bg, r.m.bar} }
func (r *meterRenderer) Destroy()                     {}

// langOptions returns display names for codes and a reverse map.
func langOptions(codes []string) ([]string, map[string]string) {
	names := make([]string, len(codes))
	back := map[string]string{}
	for i, c := range codes {
		names[i] = languageName(c)
		back[names[i]] = c
	}
	return names, back
}

func nonEmpty(s string) bool { return strings.TrimSpace(s) != "" }

// onClose runs when the window is closed: a call in progress is stopped
// (and sealed by the backend) first, after the host confirmed.
func (u *UI) onClose() {
	if u.call == nil || u.call.State().Phase == PhaseEnded {
		u.win.Close()
		return
	}
	dialog.ShowConfirm(lang.L("Stop recording and quit?"),
		lang.L("The recording so far is saved with its consent record."), func(ok bool) {
			if !ok {
				return
			}
			if err := u.call.Stop(); err != nil {
				u.showErr(err)
				return
			}
			u.call = nil
			u.win.Close()
		}, u.win)
}
