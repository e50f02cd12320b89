package consent

import (
	"fmt"
	"sort"
	"strings"
)

// PurposeIDs are the purposes a recording may have, as the record lists
// them; each has a name in every notice language (purposeNames).
var PurposeIDs = []string{"note-taking", "coaching", "training", "quality-assurance", "documentation"}

// purposeNames name each purpose, per language, as the notice states it.
// Like released notice texts they are part of hashed text: never edited.
var purposeNames = map[string]map[string]string{
	"en": {"note-taking": "note taking", "coaching": "coaching the person who is recording", "training": "training colleagues",
		"quality-assurance": "checking the quality of the service", "documentation": "documenting what was agreed"},
	"nl": {"note-taking": "aantekeningen maken", "coaching": "degene die opneemt coachen", "training": "collega's opleiden",
		"quality-assurance": "de kwaliteit van de dienstverlening controleren", "documentation": "vastleggen wat is afgesproken"},
	"de": {"note-taking": "Protokollierung", "coaching": "Coaching der aufnehmenden Person", "training": "Schulung von Kolleginnen und Kollegen",
		"quality-assurance": "Prüfung der Servicequalität", "documentation": "Dokumentation des Vereinbarten"},
	"fr": {"note-taking": "la prise de notes", "coaching": "l'accompagnement de la personne qui enregistre", "training": "la formation de collègues",
		"quality-assurance": "le contrôle de la qualité du service", "documentation": "la documentation de ce qui a été convenu"},
}

var listAnd = map[string]string{"en": "and", "nl": "en", "de": "und", "fr": "et"}

var dpoLines = map[string]string{
	"en": "Data protection officer: %s.",
	"nl": "Functionaris voor gegevensbescherming: %s.",
	"de": "Datenschutzbeauftragte Stelle: %s.",
	"fr": "Délégué à la protection des données : %s.",
}

// noticeData is what a notice template sees: the organisation's facts
// (free-text defaults in the notice's language) and sentences built from
// them in that language.
type noticeData struct {
	OrgParams
	PurposesText string // the purposes, as a phrase ("note taking and coaching …")
	DPOLine      string // "Data protection officer: …." or "" if there is none
	ExtraText    string // the organisation's own text in this language, or ""
}

func noticeDataFor(org OrgParams, lang string) noticeData {
	d := noticeData{OrgParams: org.localized(lang)}
	purposes := org.Purposes
	if len(purposes) == 0 {
		purposes = DefaultPurposes
	}
	names := purposeNames[lang]
	if names == nil {
		names = purposeNames["en"]
	}
	var ps []string
	for _, p := range purposes {
		if n, ok := names[p]; ok {
			ps = append(ps, n)
		} else {
			ps = append(ps, p)
		}
	}
	and := listAnd[lang]
	if and == "" {
		and = "and"
	}
	switch len(ps) {
	case 1:
		d.PurposesText = ps[0]
	default:
		d.PurposesText = strings.Join(ps[:len(ps)-1], ", ") + " " + and + " " + ps[len(ps)-1]
	}
	if org.DPO != "" {
		f := dpoLines[lang]
		if f == "" {
			f = dpoLines["en"]
		}
		d.DPOLine = fmt.Sprintf(f, org.DPO)
	}
	d.ExtraText = strings.TrimSpace(org.Extra[lang])
	return d
}

func (p OrgParams) offers(lang string) bool {
	if len(p.Languages) == 0 {
		return true
	}
	for _, l := range p.Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// validateMore checks the facts added with notice version 2.
func (p OrgParams) validateMore() error {
	for _, s := range []struct{ what, v string }{{"controller", p.Controller}, {"contact", p.Contact}} {
		if IsPlaceholder(s.v) {
			return fmt.Errorf("%w: the %s is not set (%q); set the organisation's real name and contact before recording", ErrBadOrg, s.what, s.v)
		}
	}
	known := map[string]bool{}
	for _, id := range PurposeIDs {
		known[id] = true
	}
	for _, id := range p.Purposes {
		if !known[id] {
			return fmt.Errorf("%w: purpose %q is not one of %s", ErrBadOrg, id, strings.Join(PurposeIDs, ", "))
		}
	}
	seen := map[string]bool{}
	for _, l := range p.Languages {
		if !langRe.MatchString(l) || seen[l] {
			return fmt.Errorf("%w: language %q is not a code like \"en\" or is listed twice", ErrBadOrg, l)
		}
		seen[l] = true
	}
	if len(p.Extra) > 0 {
		var missing []string
		for l := range p.Extra {
			if !langRe.MatchString(l) {
				return fmt.Errorf("%w: extra text for %q: not a language code", ErrBadOrg, l)
			}
			if len(p.Extra[l]) > 4000 {
				return fmt.Errorf("%w: extra text for %q is longer than 4000 bytes", ErrBadOrg, l)
			}
		}
		for _, l := range p.Languages {
			if strings.TrimSpace(p.Extra[l]) == "" {
				missing = append(missing, l)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return fmt.Errorf("%w: the organisation's extra text is missing in %s; give it in every language offered, or in none", ErrBadOrg, strings.Join(missing, ", "))
		}
	}
	return nil
}

// Explicit returns p without the free-text values that only repeat
// Assent's English defaults (older settings files stored them), so that a
// notice in another language states its own default in its own language.
func (p OrgParams) Explicit() OrgParams {
	d := OrgParams{Controller: p.Controller}.WithDefaults()
	if p.Processor == d.Processor {
		p.Processor = ""
	}
	if p.StorageLocation == d.StorageLocation {
		p.StorageLocation = ""
	}
	if p.Transfer == d.Transfer {
		p.Transfer = ""
	}
	if p.SupervisoryAuthority == d.SupervisoryAuthority {
		p.SupervisoryAuthority = ""
	}
	return p
}

// ValidateStored checks p as a settings file may hold it: the controller
// and contact may still be unset (a fresh install asks for them, and
// refuses to record until they are set), everything given must be valid.
func (p OrgParams) ValidateStored() error {
	q := p.WithDefaults()
	if strings.TrimSpace(q.Controller) == "" || IsPlaceholder(q.Controller) {
		q.Controller = "set"
	}
	if strings.TrimSpace(q.Contact) == "" || IsPlaceholder(q.Contact) {
		q.Contact = "set"
	}
	return q.Validate()
}

// Unset reports whether the controller or the contact is missing or a
// placeholder: such an organisation cannot be named to a participant.
func (p OrgParams) Unset() bool { return IsPlaceholder(p.Controller) || IsPlaceholder(p.Contact) }
