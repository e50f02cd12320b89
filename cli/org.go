package cli

import (
	"fmt"
	"strings"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/config"
	"github.com/assent-app/assent/internal/workspace"
)

func init() {
	commands["org"] = command{"show or set the organisation named in every notice (controller, contact)",
		`assent org [show] | assent org set --controller NAME --contact EMAIL|URL [--dpo TEXT]`, cmdOrg}
}

// cmdOrg shows the organisation's facts the next call's notice states, or
// sets the controller and contact on a device that is not enrolled (an
// enrolled device receives them from the organisation's server).
func cmdOrg(e *env, args []string) int {
	if len(args) == 0 || args[0] == "show" {
		cfg, err := config.Load(config.Path())
		if err != nil {
			return fail(e, ExitFailed, "%v", err)
		}
		set, _, src, err := workspace.NoticesAt(cfg, config.Path())
		if err != nil {
			return fail(e, ExitFailed, "%v", err)
		}
		o := set.Org
		from := "this laptop's settings"
		if src.Enrolled {
			from = fmt.Sprintf("set by your organisation (policy version %d)", src.PolicyVersion)
		}
		fmt.Fprintf(e.stdout, "Organisation (controller): %s\nContact: %s\n", o.Controller, o.Contact)
		if o.DPO != "" {
			fmt.Fprintf(e.stdout, "Data protection officer: %s\n", o.DPO)
		}
		fmt.Fprintf(e.stdout, "Recordings kept: %d months\nMinimum age: %d\nNotice: %s version %s in %s\nSource: %s\n",
			o.RetentionMonths, o.MinAge, set.ID, set.Version, strings.Join(set.Langs(), ", "), from)
		return ExitOK
	}
	if args[0] != "set" {
		return fail(e, ExitUsage, "usage: %s", commands["org"].usage)
	}
	fs := flags(e, "org set")
	controller := fs.String("controller", "", "the organisation that decides about the recordings, e.g. \"Acme Sales BV\"")
	contact := fs.String("contact", "", "where participants ask about a recording or exercise their rights: an e-mail address or web page")
	dpo := fs.String("dpo", "", "the data protection officer and how to reach them (optional)")
	if c := parse(fs, args[1:]); c >= 0 {
		return c
	}
	if fs.NArg() > 0 {
		return fail(e, ExitUsage, "unexpected argument %q; use --controller and --contact", fs.Arg(0))
	}
	if consent.IsPlaceholder(*controller) || consent.IsPlaceholder(*contact) {
		return fail(e, ExitUsage, "give both --controller (your organisation's name) and --contact (an e-mail address or web page where participants can ask about the recording)")
	}
	cfg, err := config.Load(config.Path())
	if err != nil {
		return fail(e, ExitFailed, "%v", err)
	}
	if cfg.ServerURL != "" {
		if _, _, ok, _ := workspace.LoadPolicy(config.Path()); ok {
			return fail(e, ExitFailed, "this laptop is enrolled: the organisation's facts are set by your organisation on its server; ask your administrator to change them")
		}
	}
	cfg.Org.Controller, cfg.Org.Contact, cfg.Org.DPO = strings.TrimSpace(*controller), strings.TrimSpace(*contact), strings.TrimSpace(*dpo)
	if err := cfg.Org.WithDefaults().Validate(); err != nil {
		return fail(e, ExitUsage, "%v", err)
	}
	if err := config.Save(config.Path(), cfg); err != nil {
		return fail(e, ExitFailed, "the settings could not be saved: %v", err)
	}
	fmt.Fprintf(e.stdout, "Every notice now names %s (contact: %s).\n", cfg.Org.Controller, cfg.Org.Contact)
	return ExitOK
}
