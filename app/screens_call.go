package app

import (
	"errors"
	"fmt"
	"image/color"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/assent-app/assent/consent"
)

// ---- first run ----

func (u *UI) showFirstRun() {
	el := map[string]fyne.CanvasObject{}
	intro := wrapLabel(lang.L("Assent records a call only while everyone on it has agreed.") + "\n" +
		lang.L("Recordings are encrypted on this laptop with a key kept in your system keyring.") + "\n" +
		lang.L("You can play, export and delete them, and sync them with their consent records to your organisation."))
	list := container.NewVBox()
	cont := widget.NewButtonWithIcon(lang.L("Continue"), theme.NavigateNextIcon(), func() {
		u.app.Preferences().SetBool(prefFirstRunDone, true)
		u.showHome(0)
	})
	cont.Importance = widget.HighImportance
	again := widget.NewButtonWithIcon(lang.L("Check again"), theme.ViewRefreshIcon(), nil)
	again.OnTapped = func() { u.fillChecks(list, cont, again) } // checks.go: in the background
	again.OnTapped()
	el["check-again"], el["continue"], el["checks"] = again, cont, list
	body := container.NewVBox(heading(lang.L("Welcome to Assent")), intro, widget.NewSeparator(),
		heading(lang.L("Before you record")), list, container.NewHBox(again, cont))
	if box := u.orgFirstRun(el); box != nil { // issue 10: who records (consent branch)
		body.Add(widget.NewSeparator())
		body.Add(box)
	}
	u.setScreen("first-run", container.NewPadded(container.NewVScroll(body)), el)
}

// ---- new call ----

type partRow struct {
	name, email *widget.Entry
	lang        *widget.Select
	obj         fyne.CanvasObject
}

func (u *UI) newCallScreen(el map[string]fyne.CanvasObject) *screen {
	s := &screen{}
	title := widget.NewEntry()
	title.SetPlaceHolder(lang.L("e.g. Intro call with Acme"))
	el["title"] = title

	langs := u.b.Languages()
	names, back := langOptions(langs)
	rows := container.NewVBox()
	var parts []*partRow
	var addRow func()
	addRow = func() {
		r := &partRow{name: widget.NewEntry(), email: widget.NewEntry(), lang: widget.NewSelect(names, nil)}
		r.name.SetPlaceHolder(lang.L("Name"))
		r.email.SetPlaceHolder(lang.L("E-mail (optional)"))
		def := languageName("en")
		if u.settings.Language != "" {
			def = languageName(u.settings.Language)
		}
		r.lang.SetSelected(def)
		i := len(parts)
		remove := widget.NewButtonWithIcon("", theme.DeleteIcon(), nil)
		remove.OnTapped = func() {
			for j, p := range parts {
				if p == r {
					parts = append(parts[:j], parts[j+1:]...)
					rows.Remove(r.obj)
					return
				}
			}
		}
		r.obj = container.NewGridWithColumns(3, r.name, r.email, container.NewBorder(nil, nil, nil, remove, r.lang))
		parts = append(parts, r)
		rows.Add(r.obj)
		el[fmt.Sprintf("participant-%d-name", i)] = r.name
		el[fmt.Sprintf("participant-%d-email", i)] = r.email
		el[fmt.Sprintf("participant-%d-lang", i)] = r.lang
	}
	addRow()
	if r := u.takeRetry(); r != nil { // issue 13: no retyping after a refusal or cancel
		title.SetText(r.Title)
		for i, p := range r.Participants {
			if i > 0 {
				addRow()
			}
			row := parts[len(parts)-1]
			row.name.SetText(p.Name)
			row.email.SetText(p.Email)
			row.lang.SetSelected(languageName(p.Lang))
		}
	}
	add := widget.NewButtonWithIcon(lang.L("Add participant"), theme.ContentAddIcon(), func() { addRow(); u.writeAutomation() })
	el["add-participant"] = add

	// Devices with live meters.
	devBox := container.NewVBox()
	var checks []*widget.Check
	var devIDs []string
	var meters []*meter
	var m Meter
	startMeter := func() {
		if m != nil {
			_ = m.Close()
			m = nil
		}
		var ids []string
		for i, c := range checks {
			if c.Checked {
				ids = append(ids, devIDs[i])
			}
		}
		if len(ids) == 0 {
			return
		}
		var err error
		if m, err = u.b.OpenMeter(ids); err != nil {
			m = nil
			u.showErr(err)
		}
	}
	fillDevices := func() {
		devBox.RemoveAll()
		checks, devIDs, meters = nil, nil, nil
		devs, err := u.b.Devices()
		if err != nil {
			devBox.Add(wrapLabel(lang.L("No input devices: ") + trErr(err)))
			return
		}
		if len(devs) == 0 {
			devBox.Add(wrapLabel(lang.L("No input device found. Connect a microphone, then choose Check again.")))
		}
		for i, d := range devs {
			on := d.ID == u.settings.InputDevice || d.ID == u.settings.CallDevice ||
				(u.settings.InputDevice == "" && d.Default)
			c := widget.NewCheck(d.Name, func(bool) { startMeter() })
			c.Checked = on
			mt := newMeter()
			checks, devIDs, meters = append(checks, c), append(devIDs, d.ID), append(meters, mt)
			devBox.Add(container.NewGridWithColumns(2, c, container.NewPadded(mt)))
			el[fmt.Sprintf("device-%d", i)] = c
		}
	}
	fillDevices()
	u.whenChecked("new-call", func() { // checks.go: devices are known once the start-up checks ran
		fillDevices()
		if s.active {
			startMeter()
		}
	})

	s.refresh = func() {
		if m == nil {
			return
		}
		lv := m.Levels()
		k := 0
		for i, c := range checks {
			if c.Checked && k < len(lv) {
				meters[i].SetLevel(lv[k])
				k++
			} else {
				meters[i].SetLevel(0)
			}
		}
	}
	var stopPoll func()
	s.onShow = func() {
		startMeter()
		stopPoll = u.every(100*time.Millisecond, s.refresh)
	}
	s.onHide = func() {
		if stopPoll != nil {
			stopPoll()
		}
		if m != nil {
			_ = m.Close()
			m = nil
		}
	}

	ask := widget.NewButtonWithIcon(lang.L("Ask for consent"), theme.ConfirmIcon(), func() {
		setup := CallSetup{Title: strings.TrimSpace(title.Text)}
		for _, r := range parts {
			if !nonEmpty(r.name.Text) && !nonEmpty(r.email.Text) {
				continue
			}
			if !nonEmpty(r.name.Text) {
				u.showErr(errors.New("every participant needs a name"))
				return
			}
			if e := strings.TrimSpace(r.email.Text); e != "" && !strings.Contains(e, "@") {
				u.showErr(fmt.Errorf("%q is not an e-mail address; leave it empty or correct it", e))
				return
			}
			setup.Participants = append(setup.Participants, ParticipantInfo{Name: strings.TrimSpace(r.name.Text),
				Email: strings.TrimSpace(r.email.Text), Lang: back[r.lang.Selected]})
		}
		if len(setup.Participants) == 0 {
			u.showErr(errors.New("add at least one participant before asking for consent"))
			return
		}
		if setup.Title == "" { // issue 13: untitled calls get who and when
			setup.Title = untitled(setup, time.Now())
		}
		u.callDevices = nil
		for i, c := range checks {
			if c.Checked {
				setup.Devices = append(setup.Devices, devIDs[i])
				u.callDevices = append(u.callDevices, c.Text)
			}
		}
		if len(setup.Devices) == 0 {
			u.showErr(errors.New("choose at least one input device"))
			return
		}
		call, err := u.b.NewCall(setup)
		if err != nil {
			u.showErr(err)
			return
		}
		u.call, u.callTitle = call, setup.Title
		u.callSetup = &setup // issue 13: kept for another try after a refusal or cancel
		var ids []string
		for _, p := range call.State().Participants {
			ids = append(ids, p.ID)
		}
		u.showConsent(ids, u.startRecording)
	})
	ask.Importance = widget.HighImportance
	el["ask-consent"] = ask

	form := container.NewVBox(
		heading(lang.L("New call")),
		widget.NewLabel(lang.L("Title")), title,
		widget.NewSeparator(),
		widget.NewLabel(lang.L("Participants")),
		container.NewGridWithColumns(3, widget.NewLabelWithStyle(lang.L("Name"), 0, fyne.TextStyle{Bold: true}),
			widget.NewLabelWithStyle(lang.L("E-mail (optional)"), 0, fyne.TextStyle{Bold: true}),
			widget.NewLabelWithStyle(lang.L("Notice language"), 0, fyne.TextStyle{Bold: true})),
		rows, container.NewHBox(add),
		widget.NewSeparator(),
		widget.NewLabel(lang.L("Input devices")), devBox,
	)
	s.obj = container.NewBorder(nil, container.NewPadded(container.NewHBox(layoutSpacer(), ask)), nil, nil,
		container.NewPadded(container.NewVScroll(form)))
	return s
}

func layoutSpacer() fyne.CanvasObject { return layout.NewSpacer() }

// ---- consent ----

// bigTheme makes the notice readable at a distance (screen sharing).
type bigTheme struct{ fyne.Theme }

func (t bigTheme) Size(n fyne.ThemeSizeName) float32 {
	s := t.Theme.Size(n)
	switch n {
	case theme.SizeNameText, theme.SizeNameSubHeadingText, theme.SizeNameHeadingText, theme.SizeNameInlineIcon:
		return s * 1.45
	}
	return s
}

// showConsent asks each participant in ids, one at a time; done runs once
// every one agreed. One refusal ends the call.
func (u *UI) showConsent(ids []string, done func()) {
	if len(ids) == 0 {
		done()
		return
	}
	call := u.call
	var p Participant
	st := call.State()
	for _, x := range st.Participants {
		if x.ID == ids[0] {
			p = x
		}
	}
	pos := len(st.Participants) - len(ids) + 1
	el := map[string]fyne.CanvasObject{}
	code := p.Lang
	if code == "" {
		code = "en"
	}
	age := u.settings.MinimumAge

	header := heading("")
	noticeBox := container.NewStack()
	ageCheck := widget.NewCheck("", nil)
	agree := widget.NewButtonWithIcon("", theme.ConfirmIcon(), nil)
	agree.Importance = widget.SuccessImportance
	decline := widget.NewButtonWithIcon("", theme.CancelIcon(), nil)
	decline.Importance = widget.DangerImportance
	var notice Notice

	render := func() {
		n, err := u.b.Notice(code)
		if err != nil {
			u.showErr(err)
			return
		}
		notice = n
		if n.MinimumAge > 0 {
			age = n.MinimumAge
		}
		title, body := splitTitle(n.Markdown)
		if title == "" {
			title = n.Title
		}
		header.SetText(title)
		rt := widget.NewRichTextFromMarkdown(body)
		rt.Wrapping = fyne.TextWrapWord
		noticeBox.Objects = []fyne.CanvasObject{container.NewVScroll(rt)}
		noticeBox.Refresh()
		ageCheck.Text = strings.ReplaceAll(phrase(code, "I am at least {{.Age}} years old"), "{{.Age}}", fmt.Sprint(age))
		ageCheck.Refresh()
		agree.SetText(phrase(code, "I agree"))
		decline.SetText(phrase(code, "I do not agree"))
	}
	names, back := langOptions(u.b.Languages())
	langSel := widget.NewSelect(names, func(s string) {
		if back[s] != code {
			code = back[s]
			render()
		}
	})
	langSel.Selected = languageName(code)
	agree.Disable()
	ageCheck.OnChanged = func(on bool) {
		if on {
			agree.Enable()
		} else {
			agree.Disable()
		}
	}
	answered := func(err error) {
		if err != nil {
			u.showErr(err)
			return
		}
		if call.State().Phase == PhaseEnded {
			u.callEnded()
			return
		}
		u.showConsent(ids[1:], done)
	}
	agree.OnTapped = func() {
		answered(call.Decide(p.ID, Decision{Agree: true, AgeConfirmed: ageCheck.Checked, Method: consent.OnScreen, Lang: notice.Lang}))
	}
	decline.OnTapped = func() {
		answered(call.Decide(p.ID, Decision{Agree: false, Method: consent.OnScreen, Lang: notice.Lang}))
	}
	verbal := widget.NewButtonWithIcon(lang.L("Record verbal consent (attested by me)"), theme.AccountIcon(), func() {
		msg := wrapLabel(fmt.Sprintf(lang.L("I confirm that I read the notice to %s, and that they said they agree and are at least %d years old."), p.Name, age))
		dialog.ShowCustomConfirm(lang.L("Verbal consent"), lang.L("They agreed"), lang.L("Cancel"), msg, func(ok bool) {
			if ok {
				answered(call.Decide(p.ID, Decision{Agree: true, AgeConfirmed: true, Method: consent.VerbalAttested, Lang: notice.Lang}))
			}
		}, u.win)
	})
	if p.Host {
		verbal.Disable() // the host answers on screen; they attest only for others (recording.ErrOwnAttestation)
	}
	remoteBtn := widget.NewButtonWithIcon(lang.L("Answer on their own device"), theme.MailSendIcon(), func() {
		u.showConsentLink(p, func() { u.showConsent(ids[1:], done) })
	})
	cancel := widget.NewButtonWithIcon(lang.L("Cancel call"), theme.CancelIcon(), func() {
		_ = call.Stop()
		u.keepForRetry(call.State()) // issue 13: title and rows stay for another try
		u.call = nil
		u.showHome(0)
	})
	render()
	el["agree"], el["decline"], el["age"], el["language"], el["verbal"], el["cancel"] = agree, decline, ageCheck, langSel, verbal, cancel
	el["remote"] = remoteBtn

	who := widget.NewLabelWithStyle(fmt.Sprintf("%s (%d/%d)", p.Name, pos, len(st.Participants)), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	who.SizeName = theme.SizeNameHeadingText
	progress := widget.NewLabel(consentProgress(st.Participants)) // issue 13: who agreed, who is still to answer
	el["consent-progress"] = progress
	top := container.NewVBox(container.NewBorder(nil, nil, nil, container.NewHBox(widget.NewIcon(theme.ComputerIcon()), langSel), who), progress, header)
	answers := container.NewVBox(ageCheck, container.NewGridWithColumns(2, agree, decline))
	big := container.NewThemeOverride(container.NewBorder(top, answers, nil, nil, noticeBox), bigTheme{theme.Current()})
	host := container.NewHBox(widget.NewLabel(lang.L("For the host:")), verbal, remoteBtn, cancel)
	u.setScreen("consent", container.NewPadded(container.NewBorder(nil, host, nil, nil, big)), el)
	u.win.Canvas().Focus(ageCheck)
}

// callEnded tells the host why the call ended and goes home.
func (u *UI) callEnded() {
	s := u.call.State()
	u.keepForRetry(s) // issue 13: a refusal keeps title and rows for another try
	u.call = nil
	var title, msg string
	switch s.Reason {
	case RefusedBy:
		title = lang.L("Not recorded")
		msg = fmt.Sprintf(lang.L("%s did not agree. Nothing of them was recorded and recording has stopped."), s.Who)
		if s.RecordingID == "" {
			msg = fmt.Sprintf(lang.L("%s did not agree, so this call is not recorded. Nothing was recorded."), s.Who)
		}
	case WithdrawnBy:
		title = lang.L("Recording stopped")
		msg = fmt.Sprintf(lang.L("%s withdrew consent. Recording stopped at once; what was recorded before stays with its consent record."), s.Who)
	case FailedReason:
		title = lang.L("Recording stopped")
		msg = plainErr(s.Err) + "\n" + keptSentence(s) // issue 13: what happened, what was kept, what to do
	default:
		title = lang.L("Recording saved")
		msg = fmt.Sprintf(lang.L("Saved %s of audio, encrypted, with its consent record."), clock(s.Recorded))
		if s.RecordingID == "" {
			msg = lang.L("Nothing was recorded.")
		}
	}
	tab := 0
	if s.RecordingID != "" {
		tab = 1
	}
	u.showHome(tab)
	u.showInfo(title, msg)
}

// ---- recording ----

func (u *UI) startRecording() {
	if err := u.call.Start(); err != nil {
		u.showErr(err)
		return
	}
	u.showRecording()
}

var recRed = color.NRGBA{0xd9, 0x30, 0x25, 0xff}

func (u *UI) showRecording() {
	call := u.call
	el := map[string]fyne.CanvasObject{}
	dot := canvas.NewCircle(recRed)
	dotBox := container.NewGridWrap(fyne.NewSize(28, 28), dot)
	status := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	status.SizeName = theme.SizeNameHeadingText
	timer := widget.NewLabelWithStyle("0:00", fyne.TextAlignTrailing, fyne.TextStyle{Monospace: true})
	timer.SizeName = theme.SizeNameHeadingText
	hint := wrapLabel("")
	warn := wrapLabel("") // callaudio: CallState.Warning (one side of the call silent)
	el["capture-warning"] = warn
	meters := container.NewVBox()
	var mts []*meter
	partBox := container.NewVBox()
	pause := widget.NewButtonWithIcon(lang.L("Pause"), theme.MediaPauseIcon(), nil)
	stop := widget.NewButtonWithIcon(lang.L("Stop"), theme.MediaStopIcon(), func() { u.stopCall() })
	stop.Importance = widget.DangerImportance
	joined := widget.NewButtonWithIcon(lang.L("Someone joined"), theme.ContentAddIcon(), func() { u.lateJoiner() })
	el["pause"], el["stop"], el["joined"], el["timer"], el["status"] = pause, stop, joined, timer, status

	partSig := ""
	refresh := func() {
		s := call.State()
		if s.Phase == PhaseEnded {
			u.callEnded()
			return
		}
		timer.SetText(clock(s.Recorded))
		switch s.Phase {
		case PhaseRecording:
			status.SetText(lang.L("Recording"))
			dot.FillColor = recRed
			hint.SetText(lang.L("Everyone agreed. Anyone can ask to stop at any time."))
			pause.SetText(lang.L("Pause"))
			pause.SetIcon(theme.MediaPauseIcon())
			pause.OnTapped = func() { u.showErr(call.Pause()); u.Refresh() }
		case PhasePaused:
			status.SetText(lang.L("Paused"))
			dot.FillColor = color.NRGBA{0x88, 0x88, 0x88, 0xff}
			hint.SetText(lang.L("Nothing is being recorded."))
			pause.SetText(lang.L("Resume"))
			pause.SetIcon(theme.MediaPlayIcon())
			pause.OnTapped = func() { u.showErr(call.Resume()); u.Refresh() }
		case PhaseHeld:
			status.SetText(lang.L("Waiting for consent"))
			dot.FillColor = color.NRGBA{0xe8, 0xa3, 0x17, 0xff}
			hint.SetText(lang.L("Someone has not agreed yet. Nothing is being recorded."))
		}
		dot.Refresh()
		if s.Warning != "" {
			warn.SetText("⚠ " + lang.L(s.Warning))
		} else {
			warn.SetText("")
		}
		for len(mts) < len(s.Levels) {
			m := newMeter()
			name := fmt.Sprintf(lang.L("Input %d"), len(mts)+1)
			if len(mts) < len(u.callDevices) {
				name = u.callDevices[len(mts)]
			}
			mts = append(mts, m)
			meters.Add(container.NewGridWithColumns(2, widget.NewLabel(name), container.NewPadded(m)))
		}
		for i, v := range s.Levels {
			mts[i].SetLevel(v)
		}
		sig := ""
		for _, p := range s.Participants {
			sig += fmt.Sprintf("%s:%d:%s;", p.ID, p.State, p.Method)
		}
		if sig != partSig {
			partSig = sig
			partBox.RemoveAll()
			for _, p := range s.Participants {
				p := p
				state := consentLabel(p)
				w := widget.NewButtonWithIcon(lang.L("Withdraw — stop recording"), theme.MediaStopIcon(), func() {
					u.showErr(call.Withdraw(p.ID))
					u.Refresh()
				})
				if p.State != Given {
					w.Disable()
				}
				el["withdraw-"+p.ID] = w
				partBox.Add(container.NewBorder(nil, nil, widget.NewLabelWithStyle(p.Name, 0, fyne.TextStyle{Bold: true}), w, widget.NewLabel(state)))
			}
		}
		u.updateTitle()
	}
	refresh()
	top := container.NewBorder(nil, nil, container.NewHBox(container.NewCenter(dotBox), status), timer)
	body := container.NewVBox(top, hint, warn, widget.NewSeparator(), widget.NewLabel(lang.L("Input levels")), meters,
		widget.NewSeparator(), widget.NewLabel(lang.L("Participants")), partBox)
	bar := container.NewHBox(joined, pause, stop)
	u.setScreen("recording", container.NewPadded(container.NewBorder(nil, bar, nil, nil, container.NewVScroll(body))), el)
	u.refresh = refresh
	u.every(200*time.Millisecond, refresh)
}

func consentLabel(p Participant) string {
	switch p.State {
	case Given:
		if p.Method == consent.VerbalAttested {
			return lang.L("Agreed verbally (attested by host)")
		}
		if p.Method == consent.Remote {
			return lang.L("Agreed on their own device")
		}
		return lang.L("Agreed on screen")
	case Refused:
		return lang.L("Did not agree")
	case Withdrawn:
		return lang.L("Withdrew consent")
	}
	return lang.L("Not asked yet")
}

// stopCall stops the call and reports what was saved.
func (u *UI) stopCall() {
	if u.call == nil {
		return
	}
	if err := u.call.Stop(); err != nil {
		u.showErr(err)
		return
	}
	u.callEnded()
}

// lateJoiner closes the gate first (in the same tap), then asks who joined
// and shows them the notice; nothing is recorded until they agree.
func (u *UI) lateJoiner() {
	call := u.call
	if err := call.HoldForJoin(); err != nil {
		u.showErr(err)
		return
	}
	u.Refresh()
	name := widget.NewEntry()
	name.SetPlaceHolder(lang.L("Name"))
	email := widget.NewEntry()
	email.SetPlaceHolder(lang.L("E-mail (optional)"))
	names, back := langOptions(u.b.Languages())
	sel := widget.NewSelect(names, nil)
	sel.SetSelected(names[0])
	for _, n := range names {
		if u.settings.Language != "" && n == languageName(u.settings.Language) {
			sel.SetSelected(n)
		}
	}
	u.el["join-name"], u.el["join-lang"] = name, sel
	items := []*widget.FormItem{widget.NewFormItem(lang.L("Name"), name), widget.NewFormItem(lang.L("E-mail (optional)"), email),
		widget.NewFormItem(lang.L("Notice language"), sel)}
	d := dialog.NewForm(lang.L("Someone joined"), lang.L("Ask for consent"), lang.L("Cancel"), items, func(ok bool) {
		if !ok {
			u.showErr(call.CancelJoin())
			u.Refresh()
			return
		}
		id, err := call.Join(ParticipantInfo{Name: strings.TrimSpace(name.Text), Email: strings.TrimSpace(email.Text), Lang: back[sel.Selected]})
		if err != nil {
			u.showErr(call.CancelJoin())
			u.showErr(err)
			u.Refresh()
			return
		}
		for _, p := range call.State().Participants {
			if p.ID == id && p.State == Given { // someone listed came back: their answer stands
				u.showRecording()
				return
			}
		}
		// The gate stays closed; they read the notice in their language and answer.
		u.showConsent([]string{id}, u.showRecording)
	}, u.win)
	d.Resize(fyne.NewSize(520, 280))
	d.Show()
	u.joinDialog = d
}

// splitTitle takes a leading "# Title" line off a Markdown notice.
func splitTitle(md string) (title, body string) {
	md = strings.TrimLeft(md, "\n")
	if strings.HasPrefix(md, "# ") {
		line, rest, _ := strings.Cut(md, "\n")
		return strings.TrimSpace(strings.TrimPrefix(line, "# ")), strings.TrimLeft(rest, "\n")
	}
	return "", md
}

// showConsentLink shows participant p's consent link — as text to paste in
// the meeting chat and as a QR code — and moves on by itself once they
// answered on their own device: next after agreeing, the end of the call
// after a refusal. Closing the dialog goes back to on-screen consent.
func (u *UI) showConsentLink(p Participant, next func()) {
	call := u.call
	l, err := call.ConsentLink(p.ID)
	if err != nil {
		u.showErr(err)
		return
	}
	el := map[string]fyne.CanvasObject{}
	link := widget.NewEntry()
	link.SetText(l.URL)
	link.OnChanged = func(string) { link.SetText(l.URL) } // shown to copy, not to edit
	copyBtn := widget.NewButtonWithIcon(lang.L("Copy link"), theme.ContentCopyIcon(), func() {
		fyne.CurrentApp().Clipboard().SetContent(l.URL)
	})
	status := wrapLabel(fmt.Sprintf(lang.L("Waiting for %s to answer on their device…"), p.Name))
	items := []fyne.CanvasObject{
		wrapLabel(fmt.Sprintf(lang.L("Send %s this link (for example in the meeting chat), or let them scan the code. They read the notice in their language and answer there; recording starts only when everyone agreed."), p.Name)),
		container.NewBorder(nil, nil, nil, copyBtn, link),
	}
	if len(l.QR) > 0 {
		qr := canvas.NewImageFromResource(fyne.NewStaticResource("consent-link.png", l.QR))
		qr.FillMode = canvas.ImageFillContain
		qr.ScaleMode = canvas.ImageScalePixels
		qr.SetMinSize(fyne.NewSize(220, 220))
		items = append(items, container.NewCenter(qr))
		el["qr"] = qr
	}
	items = append(items, status)
	d := dialog.NewCustom(lang.L("Consent on their own device"), lang.L("Back to on-screen consent"), container.NewVBox(items...), u.win)
	el["link"], el["copy"], el["remoteStatus"] = link, copyBtn, status
	for k, v := range el {
		u.el[k] = v
	}
	var stop func()
	finished := false
	check := func() {
		if finished {
			return
		}
		st := call.State()
		for _, x := range st.Participants {
			if x.ID != p.ID {
				continue
			}
			switch {
			case st.Phase == PhaseEnded:
				finished = true
				stop()
				d.Hide()
				u.callEnded()
			case x.State == Given:
				finished = true
				stop()
				d.Hide()
				next()
			}
		}
	}
	prev := u.refresh
	u.refresh = check // tests drive it with Refresh; a live app polls
	stop = u.every(200*time.Millisecond, check)
	d.SetOnClosed(func() { stop(); u.refresh = prev; u.linkDialog = nil })
	u.linkDialog = d
	d.Resize(fyne.NewSize(680, 540))
	d.Show()
}
