package desktop

import (
	"errors"
	"fmt"

	"github.com/assent-app/assent/app"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/config"
	"github.com/assent-app/assent/internal/workspace"
)

// Org implements app.OrgBackend: the organisation's facts the next call's
// notice states — from the organisation's policy when enrolled, else from
// the settings.
func (b *Backend) Org() app.OrgInfo {
	cfg := b.config()
	if cfg.ServerURL != "" {
		if p, _, ok, err := workspace.LoadPolicy(b.cfgPath); err == nil && ok {
			o := p.Org.WithDefaults()
			return app.OrgInfo{Controller: o.Controller, Contact: o.Contact, DPO: o.DPO, RetentionMonths: o.RetentionMonths,
				MinAge: o.MinAge, Enrolled: true}
		}
	}
	o := cfg.Org.WithDefaults()
	info := app.OrgInfo{Controller: o.Controller, Contact: o.Contact, DPO: o.DPO, RetentionMonths: o.RetentionMonths, MinAge: o.MinAge}
	if consent.IsPlaceholder(info.Controller) {
		info.Controller = ""
	}
	if consent.IsPlaceholder(info.Contact) {
		info.Contact = ""
	}
	return info
}

// SetOrg implements app.OrgBackend for a device that is not enrolled.
func (b *Backend) SetOrg(controller, contact, dpo string) error {
	if b.Org().Enrolled {
		return errors.New("these are set by your organisation and come from its server; ask your administrator to change them")
	}
	if consent.IsPlaceholder(controller) || consent.IsPlaceholder(contact) {
		return errors.New("type your organisation's name and a contact (e-mail address or web page) where participants can ask about the recording")
	}
	b.mu.Lock()
	c := b.cfg
	b.mu.Unlock()
	c.Org.Controller, c.Org.Contact, c.Org.DPO = controller, contact, dpo
	if err := c.Org.WithDefaults().Validate(); err != nil {
		return err
	}
	if err := config.Save(b.cfgPath, c); err != nil {
		return fmt.Errorf("the settings could not be saved: %w", err)
	}
	b.mu.Lock()
	b.cfg.Org.Controller, b.cfg.Org.Contact, b.cfg.Org.DPO = controller, contact, dpo
	b.mu.Unlock()
	return nil
}
