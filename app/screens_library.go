package app

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// libraryView is the library's view model: all recordings and the
// filtered subset shown.
type libraryView struct {
	all   []Recording
	shown []Recording
	query string
	text  []string // lower-cased search text per entry of all
}

func (v *libraryView) set(recs []Recording) {
	v.all = recs
	v.text = make([]string, len(recs))
	for i, r := range recs {
		v.text[i] = strings.ToLower(r.Title + " " + strings.Join(r.Participants, " ") + " " + r.Started.Format("2006-01-02"))
	}
	v.filter(v.query)
}

func (v *libraryView) filter(q string) {
	v.query = q
	q = strings.ToLower(strings.TrimSpace(q))
	if q == "" {
		v.shown = v.all
		return
	}
	v.shown = v.shown[:0:0]
	for i, r := range v.all {
		if strings.Contains(v.text[i], q) {
			v.shown = append(v.shown, r)
		}
	}
}

func syncLabel(r Recording) string {
	switch r.Sync {
	case Queued:
		return lang.L("Waiting to sync")
	case Uploading:
		return fmt.Sprintf(lang.L("Uploading %d%%"), int(r.Progress*100))
	case Synced:
		return lang.L("Synced")
	case SyncFailed:
		return lang.L("Sync failed, will retry")
	case DeletePending:
		return lang.L("Deleting on server")
	}
	return lang.L("Only on this laptop")
}

func (u *UI) libraryScreen(el map[string]fyne.CanvasObject) *screen {
	s := &screen{}
	v := &libraryView{}
	loadErr := widget.NewLabel("")
	loadErr.Hide()
	load := func() {
		recs, err := u.b.Recordings()
		if err != nil {
			loadErr.SetText(trErr(err))
			loadErr.Show()
			return
		}
		loadErr.Hide()
		v.set(recs)
	}
	load()

	count := widget.NewLabel("")
	var list *widget.List
	detail := container.NewStack(container.NewCenter(widget.NewLabel(lang.L("Choose a recording to play it."))))
	var player Player
	closePlayer := func() {
		if player != nil {
			_ = player.Close()
			player = nil
		}
	}
	var showDetail func(r Recording)

	list = widget.NewList(
		func() int { return len(v.shown) },
		func() fyne.CanvasObject {
			title := widget.NewLabelWithStyle("title", 0, fyne.TextStyle{Bold: true})
			title.Truncation = fyne.TextTruncateEllipsis
			meta := widget.NewLabel("meta")
			meta.Truncation = fyne.TextTruncateEllipsis
			syncL := widget.NewLabel("sync")
			prog := widget.NewProgressBar()
			prog.TextFormatter = func() string { return "" }
			rec := widget.NewLabelWithStyle(lang.L("Recovered"), 0, fyne.TextStyle{Italic: true})
			right := container.NewVBox(container.NewHBox(rec, syncL), prog)
			return container.NewBorder(nil, nil, nil, right, container.NewVBox(title, meta))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			r := v.shown[i]
			b := o.(*fyne.Container)
			text := b.Objects[0].(*fyne.Container)
			right := b.Objects[1].(*fyne.Container)
			text.Objects[0].(*widget.Label).SetText(r.Title)
			text.Objects[1].(*widget.Label).SetText(fmt.Sprintf("%s · %s · %s · %s", r.Started.Format("2006-01-02 15:04"),
				clock(r.Duration), strings.Join(r.Participants, ", "), size(r.Size)))
			row := right.Objects[0].(*fyne.Container)
			if r.Recovered {
				row.Objects[0].Show()
			} else {
				row.Objects[0].Hide()
			}
			row.Objects[1].(*widget.Label).SetText(syncLabel(r))
			prog := right.Objects[1].(*widget.ProgressBar)
			if r.Sync == Uploading {
				prog.SetValue(r.Progress)
				prog.Show()
			} else {
				prog.Hide()
			}
		},
	)
	list.OnSelected = func(i widget.ListItemID) {
		if i >= 0 && i < len(v.shown) {
			showDetail(v.shown[i])
		}
	}
	search := widget.NewEntry()
	search.SetPlaceHolder(lang.L("Search title, participant or date"))
	updateCount := func() {
		count.SetText(fmt.Sprintf(lang.L("%d of %d recordings"), len(v.shown), len(v.all)))
	}
	search.OnChanged = func(q string) {
		v.filter(q)
		list.UnselectAll()
		list.Refresh()
		updateCount()
	}
	updateCount()
	el["search"], el["list"] = search, list

	reload := func() {
		load()
		list.Refresh()
		updateCount()
	}

	showDetail = func(r Recording) {
		closePlayer()
		title := heading(r.Title)
		meta := wrapLabel(fmt.Sprintf("%s\n%s: %s\n%s: %s\n%s: %s\n%s", r.Started.Format("2006-01-02 15:04"),
			lang.L("Duration"), clock(r.Duration), lang.L("Participants"), strings.Join(r.Participants, ", "),
			lang.L("Size"), size(r.Size), syncLabel(r)))
		var recovered fyne.CanvasObject = container.NewStack()
		if r.Recovered {
			recovered = wrapLabel(lang.L("Recovered after the app stopped unexpectedly: everything that was sealed before the crash is here."))
		}
		pos := widget.NewLabel("0:00 / " + clock(r.Duration))
		seek := widget.NewSlider(0, r.Duration.Seconds())
		seek.Step = 1
		play := widget.NewButtonWithIcon(lang.L("Play"), theme.MediaPlayIcon(), nil)
		update := func() {
			if player == nil {
				return
			}
			p := player.Position()
			pos.SetText(clock(p) + " / " + clock(player.Duration()))
			seek.Value = p.Seconds()
			seek.Refresh()
			if player.Playing() {
				play.SetText(lang.L("Pause"))
				play.SetIcon(theme.MediaPauseIcon())
			} else {
				play.SetText(lang.L("Play"))
				play.SetIcon(theme.MediaPlayIcon())
			}
		}
		open := func() bool {
			if player != nil {
				return true
			}
			p, err := u.b.Play(r.ID)
			if err != nil {
				u.showErr(err)
				return false
			}
			player = p
			return true
		}
		play.OnTapped = func() {
			if !open() {
				return
			}
			var err error
			if player.Playing() {
				err = player.Pause()
			} else {
				err = player.Play()
			}
			u.showErr(err)
			update()
		}
		seek.OnChangeEnded = func(sec float64) {
			if !open() {
				return
			}
			u.showErr(player.Seek(time.Duration(sec * float64(time.Second))))
			update()
		}
		receipt := widget.NewButtonWithIcon(lang.L("Consent record"), theme.DocumentIcon(), func() {
			txt, err := u.b.Receipt(r.ID)
			if err != nil {
				u.showErr(err)
				return
			}
			e := widget.NewMultiLineEntry()
			e.SetText(txt)
			e.Wrapping = fyne.TextWrapWord
			d := dialog.NewCustom(lang.L("Consent record"), lang.L("Close"), e, u.win)
			d.Resize(fyne.NewSize(720, 480))
			d.Show()
			u.el["receipt-text"] = e
		})
		export := widget.NewButtonWithIcon(lang.L("Export…"), theme.DownloadIcon(), func() {
			// The exported audio is decrypted: say so before anything is written.
			warn := wrapLabel(lang.L("The exported files are NOT encrypted: anyone who can open the folder can listen to the call. Export only to a place you trust, and delete the copy when you no longer need it."))
			d := dialog.NewCustomConfirm(lang.L("Export unencrypted copy?"), lang.L("Choose folder…"), lang.L("Cancel"), warn, func(ok bool) {
				if !ok {
					return
				}
				u.chooseDir(func(dir string) {
					p, err := u.b.Export(r.ID, dir)
					if err != nil {
						u.showErr(err)
						return
					}
					u.showInfo(lang.L("Exported"), fmt.Sprintf(lang.L("Written to %s"), p)+"\n"+lang.L("These files are not encrypted."))
				})
			}, u.win)
			d.Resize(fyne.NewSize(520, 220))
			d.Show()
			u.el["export-warning"] = warn
		})
		del := widget.NewButtonWithIcon(lang.L("Delete…"), theme.DeleteIcon(), func() {
			msg := lang.L("It was never uploaded, so only the copy on this laptop exists.")
			switch r.Sync {
			case Synced, Uploading, SyncFailed:
				msg = lang.L("The copy on the server will be deleted too.")
			case DeletePending:
				msg = lang.L("The server copy is already being deleted.")
			}
			text := wrapLabel(fmt.Sprintf(lang.L("Delete \"%s\" and its local files for good?"), r.Title) + "\n" + msg)
			d := dialog.NewCustomConfirm(lang.L("Delete recording"), fmt.Sprintf(lang.L("Delete \"%s\""), r.Title), lang.L("Cancel"), text, func(ok bool) {
				if !ok {
					return
				}
				if err := u.b.Delete(r.ID); err != nil {
					u.showErr(err)
					return
				}
				closePlayer()
				list.UnselectAll()
				detail.Objects = []fyne.CanvasObject{container.NewCenter(widget.NewLabel(lang.L("Recording deleted.")))}
				detail.Refresh()
				reload()
			}, u.win)
			d.SetConfirmImportance(widget.DangerImportance) // red, and it names what goes
			d.Resize(fyne.NewSize(520, 220))
			d.Show()
			u.el["delete-message"] = text
		})
		del.Importance = widget.DangerImportance
		u.el["play"], u.el["seek"], u.el["position"], u.el["receipt"], u.el["export"], u.el["delete"] = play, seek, pos, receipt, export, del
		detail.Objects = []fyne.CanvasObject{container.NewVBox(title, meta, recovered, widget.NewSeparator(),
			container.NewBorder(nil, nil, play, pos, seek), widget.NewSeparator(),
			container.NewHBox(receipt, export, del))}
		detail.Refresh()
		u.writeAutomation()
	}
	s.refresh = func() {
		// Sync progress moves; keep the selection.
		load()
		list.Refresh()
		updateCount()
	}
	playerTick := func() {
		if player != nil && u.el["play"] != nil {
			p := player.Position()
			if pl, ok := u.el["position"].(*widget.Label); ok {
				pl.SetText(clock(p) + " / " + clock(player.Duration()))
			}
			if sl, ok := u.el["seek"].(*widget.Slider); ok {
				sl.Value = p.Seconds()
				sl.Refresh()
			}
		}
	}
	var stops []func()
	s.onShow = func() {
		reload()
		stops = []func(){u.every(2*time.Second, s.refresh), u.every(250*time.Millisecond, playerTick)}
	}
	s.onHide = func() {
		for _, f := range stops {
			f()
		}
		closePlayer()
	}
	left := container.NewBorder(container.NewVBox(heading(lang.L("Library")), search, count, loadErr), nil, nil, nil, list)
	split := container.NewHSplit(left, container.NewPadded(detail))
	split.Offset = 0.55
	s.obj = container.NewPadded(split)
	return s
}

// ---- settings ----

func (u *UI) settingsScreen(el map[string]fyne.CanvasObject) *screen {
	s := &screen{}
	cur := u.settings

	none := lang.L("(none)")
	var devs []Device
	devBack := map[string]string{none: CallNone}
	nameOf := func(id string) string {
		for _, d := range devs {
			if d.ID == id {
				return d.Name
			}
		}
		return ""
	}
	input := widget.NewSelect(nil, nil)
	callIn, callWarn := u.callDeviceSelect() // callaudio: callwatch.go
	// The devices are known once the start-up checks asked the sound
	// server (in the background); fill the choices then, keeping a choice
	// the rep already made.
	fillDevs := func() {
		devs, _ = u.b.Devices()
		devNames, callNames := []string{}, []string{} // microphones and call sources apart
		for _, d := range devs {
			if d.Call {
				callNames = append(callNames, d.Name)
			} else {
				devNames = append(devNames, d.Name)
			}
			devBack[d.Name] = d.ID
		}
		input.SetOptions(devNames)
		if input.Selected == "" {
			if n := nameOf(cur.InputDevice); n != "" {
				input.SetSelected(n)
			} else {
				for _, d := range devs {
					if d.Default {
						input.SetSelected(d.Name)
					}
				}
			}
		}
		fillCallSelect(callIn, callWarn, devs, callNames, cur.CallDevice)
	}
	fillDevs()
	u.whenChecked("settings", fillDevs)

	server := widget.NewEntry()
	server.SetText(cur.ServerURL)
	server.SetPlaceHolder("https://assent.example.org")
	code := widget.NewPasswordEntry()
	code.SetPlaceHolder(lang.L("One-time code from your administrator"))
	status := wrapLabel("")
	showStatus := func() {
		st := u.b.Sync()
		switch {
		case !st.Enrolled:
			status.SetText(lang.L("Not enrolled: recordings stay on this laptop."))
		case st.LastError != "":
			status.SetText(fmt.Sprintf(lang.L("Enrolled with %s. Problem: %s"), st.ServerURL, lang.L(st.LastError)))
		case st.Connected:
			status.SetText(fmt.Sprintf(lang.L("Connected to %s. %d waiting to sync."), st.ServerURL, st.Pending))
		default:
			status.SetText(fmt.Sprintf(lang.L("Enrolled with %s, offline. %d waiting to sync."), st.ServerURL, st.Pending))
		}
	}
	showStatus()
	enrol := widget.NewButtonWithIcon(lang.L("Enrol this laptop"), theme.LoginIcon(), func() {
		err := u.b.Enrol(strings.TrimSpace(server.Text), strings.TrimSpace(code.Text))
		code.SetText("") // the code is a secret: never kept
		if err != nil {
			u.showErr(err)
			return
		}
		u.settings.ServerURL = strings.TrimSpace(server.Text)
		u.saveSettings(u.settings)
		showStatus()
	})

	retention := widget.NewEntry()
	retention.SetText(strconv.Itoa(cur.RetentionDays))
	chime := widget.NewCheck(lang.L("Play a chime when recording starts"), nil)
	chime.SetChecked(cur.Chime)
	beep := widget.NewCheck(lang.L("Beep every 15 seconds while recording"), nil)
	beep.SetChecked(cur.Beep)
	ages := []string{}
	for a := 13; a <= 18; a++ {
		ages = append(ages, strconv.Itoa(a))
	}
	minAge := widget.NewSelect(ages, nil)
	minAge.SetSelected(strconv.Itoa(cur.MinimumAge))
	system := lang.L("System language")
	langNames := []string{system}
	langBack := map[string]string{system: ""}
	for _, c := range uiLanguages() {
		langNames = append(langNames, languageName(c))
		langBack[languageName(c)] = c
	}
	uiLang := widget.NewSelect(langNames, nil)
	if cur.Language == "" {
		uiLang.SetSelected(system)
	} else {
		uiLang.SetSelected(languageName(cur.Language))
	}

	orgF := u.newOrgFields(el)
	save := widget.NewButtonWithIcon(lang.L("Save settings"), theme.DocumentSaveIcon(), func() {
		if err := orgF.save(); err != nil {
			u.showErr(err)
			return
		}
		days, err := strconv.Atoi(strings.TrimSpace(retention.Text))
		if err != nil {
			u.showErr(fmt.Errorf("retention must be a whole number of days, like 1095"))
			return
		}
		age, _ := strconv.Atoi(minAge.Selected)
		ns := Settings{InputDevice: devBack[input.Selected], CallDevice: devBack[callIn.Selected],
			ServerURL: strings.TrimSpace(server.Text), RetentionDays: days, Chime: chime.Checked, Beep: beep.Checked,
			MinimumAge: age, OrgNotice: cur.OrgNotice, Language: langBack[uiLang.Selected]}
		if len(devs) == 0 {
			// Devices not known (yet): keep the saved choice.
			ns.InputDevice, ns.CallDevice = cur.InputDevice, cur.CallDevice
		}
		if err := ns.Validate(); err != nil {
			u.showErr(err)
			return
		}
		if err := u.b.Apply(ns); err != nil {
			u.showErr(err)
			return
		}
		changedLang := ns.Language != u.settings.Language
		u.settings = ns
		u.saveSettings(ns)
		if changedLang {
			setUILanguage(ns.Language)
			u.showHome(2)
		}
		u.showInfo(lang.L("Settings"), lang.L("Saved."))
	})
	save.Importance = widget.HighImportance
	el["input-device"], el["call-device"], el["server"], el["code"], el["enrol"], el["retention"] = input, callIn, server, code, enrol, retention
	el["chime"], el["beep"], el["min-age"], el["ui-language"], el["save"], el["sync-status"] = chime, beep, minAge, uiLang, save, status

	form := widget.NewForm(append(orgF.items,
		widget.NewFormItem(lang.L("Microphone"), input),
		widget.NewFormItem(lang.L("Call audio"), container.NewVBox(callIn, callWarn)), // callaudio
		widget.NewFormItem(lang.L("Calls"), u.callWatchSetting()),                     // callaudio: callwatch.go
		widget.NewFormItem(lang.L("Server"), server),
		widget.NewFormItem(lang.L("Enrolment code"), container.NewBorder(nil, nil, nil, enrol, code)),
		widget.NewFormItem(lang.L("Status"), status),
		widget.NewFormItem(lang.L("Keep the copy on this laptop (days)"), retention),
		widget.NewFormItem(lang.L("Sounds"), container.NewVBox(chime, beep)),
		widget.NewFormItem(lang.L("Minimum age"), minAge),
		widget.NewFormItem(lang.L("Language"), uiLang),
	)...)
	s.refresh = showStatus
	var stop func()
	s.onShow = func() { showStatus(); stop = u.every(2*time.Second, showStatus) }
	s.onHide = func() {
		if stop != nil {
			stop()
		}
	}
	s.obj = container.NewBorder(nil, container.NewPadded(container.NewHBox(layoutSpacer(), save)), nil, nil,
		container.NewPadded(container.NewVScroll(container.NewVBox(heading(lang.L("Settings")), form))))
	return s
}
