package app

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/widget"
)

// OrgInfo are the organisation's facts every notice states, as the
// backend will use them for the next call.
type OrgInfo struct {
	Controller, Contact, DPO string
	RetentionMonths          int
	MinAge                   int
	// Enrolled: the facts come from the organisation's server and are
	// shown read-only ("set by your organisation").
	Enrolled bool
}

// OrgBackend is implemented by backends that know the organisation's
// facts. A device that is not enrolled sets the controller and contact
// here (first run and Settings) and records nothing until they are set.
type OrgBackend interface {
	Org() OrgInfo
	SetOrg(controller, contact, dpo string) error
}

// orgFields are the organisation's facts on the first-run and settings
// screens: editable entries when the device is not enrolled, read-only
// labels "set by your organisation" when it is.
type orgFields struct {
	items                    []*widget.FormItem
	controller, contact, dpo *widget.Entry
	enrolled                 bool
	b                        OrgBackend
}

func (u *UI) newOrgFields(el map[string]fyne.CanvasObject) *orgFields {
	ob, ok := u.b.(OrgBackend)
	if !ok {
		return &orgFields{}
	}
	info := ob.Org()
	f := &orgFields{b: ob, enrolled: info.Enrolled}
	if info.Enrolled {
		note := lang.L("set by your organisation")
		row := func(label, v string) *widget.FormItem {
			if v == "" {
				v = lang.L("(none)")
			}
			return widget.NewFormItem(label, wrapLabel(v+" — "+note))
		}
		f.items = []*widget.FormItem{
			row(lang.L("Organisation (controller)"), info.Controller),
			row(lang.L("Contact for participants"), info.Contact),
			row(lang.L("Data protection officer"), info.DPO),
			row(lang.L("Recordings kept (told to participants)"), fmt.Sprintf(lang.L("%d months"), info.RetentionMonths)),
		}
		return f
	}
	f.controller, f.contact, f.dpo = widget.NewEntry(), widget.NewEntry(), widget.NewEntry()
	f.controller.SetText(info.Controller)
	f.controller.SetPlaceHolder(lang.L("e.g. Acme Sales BV"))
	f.contact.SetText(info.Contact)
	f.contact.SetPlaceHolder(lang.L("e.g. privacy@acme.example"))
	f.dpo.SetText(info.DPO)
	f.dpo.SetPlaceHolder(lang.L("optional"))
	el["org-controller"], el["org-contact"], el["org-dpo"] = f.controller, f.contact, f.dpo
	f.items = []*widget.FormItem{
		widget.NewFormItem(lang.L("Organisation (controller)"), f.controller),
		widget.NewFormItem(lang.L("Contact for participants"), f.contact),
		widget.NewFormItem(lang.L("Data protection officer"), f.dpo),
	}
	return f
}

// save stores the typed facts (nothing to do when enrolled).
func (f *orgFields) save() error {
	if f.b == nil || f.enrolled {
		return nil
	}
	return f.b.SetOrg(strings.TrimSpace(f.controller.Text), strings.TrimSpace(f.contact.Text), strings.TrimSpace(f.dpo.Text))
}

// orgFirstRun is the first-run box that asks for the organisation's name
// and contact (not enrolled); nil when there is nothing to ask.
func (u *UI) orgFirstRun(el map[string]fyne.CanvasObject) fyne.CanvasObject {
	f := u.newOrgFields(el)
	if f.b == nil || f.enrolled {
		return nil
	}
	save := widget.NewButton(lang.L("Save"), func() {
		if err := f.save(); err != nil {
			u.showErr(err)
			return
		}
		u.showInfo(lang.L("Settings"), lang.L("Saved."))
	})
	el["org-save"] = save
	return container.NewVBox(
		heading(lang.L("Who records")),
		wrapLabel(lang.L("Every participant is told who records the call and whom to ask about it. Assent records nothing until these are set.")),
		widget.NewForm(f.items...), container.NewHBox(save))
}
