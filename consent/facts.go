package consent

import "fmt"

// PolicyRef names the signed organisation policy a notice set was rendered
// from (enrolled devices): its version and the SHA-256 of its signed bytes
// ([SignedPolicy.Hash]).
type PolicyRef struct {
	Version int    `json:"version"`
	SHA256  string `json:"sha256"`
}

// Facts are the organisation's facts that the notice text states, beyond
// the controller, contact, jurisdiction, purposes, retention and minimum
// age that the record header always had. A record carries them so that an
// auditor reads in the record itself what participants were told (and
// can re-render the notice from them). Empty strings are absent.
//
// Free-text facts the organisation left empty are stated by the notice in
// its own language (Assent's defaults); the record then holds Assent's
// English default text, marked by Defaulted.
type Facts struct {
	DPO                  string     `json:"dpo,omitempty"`
	Processor            string     `json:"processor"`
	StorageLocation      string     `json:"storageLocation"`
	Transfer             string     `json:"transfer"`
	SupervisoryAuthority string     `json:"supervisoryAuthority"`
	Defaulted            []string   `json:"defaulted,omitempty"` // names of the fields above that are Assent's defaults
	Languages            []string   `json:"languages"`           // notice languages offered
	Extra                []LangText `json:"extra,omitempty"`     // the organisation's own text per language
	Policy               *PolicyRef `json:"policy,omitempty"`    // the signed policy (enrolled devices)
}

// LangText is a text in one language.
type LangText struct {
	Lang string `json:"lang"`
	Text string `json:"text"`
}

// factsOf builds the record's facts of a notice set.
func factsOf(set *NoticeSet) *Facts {
	raw := set.Org // WithDefaults applied; Raw keeps what was given
	f := &Facts{DPO: raw.DPO, Processor: raw.Processor, StorageLocation: raw.StorageLocation, Transfer: raw.Transfer,
		SupervisoryAuthority: raw.SupervisoryAuthority, Languages: set.Langs(), Policy: set.Policy}
	given := set.Given
	for _, x := range []struct {
		name string
		v    string
	}{{"processor", given.Processor}, {"storageLocation", given.StorageLocation}, {"transfer", given.Transfer},
		{"supervisoryAuthority", given.SupervisoryAuthority}} {
		if x.v == "" {
			f.Defaulted = append(f.Defaulted, x.name)
		}
	}
	for _, l := range f.Languages {
		if t := raw.Extra[l]; t != "" {
			f.Extra = append(f.Extra, LangText{Lang: l, Text: t})
		}
	}
	return f
}

func (c *canon) facts(f *Facts) {
	if f == nil {
		return // records written before facts existed hash as they did
	}
	c.field("facts.dpo", f.DPO)
	c.field("facts.processor", f.Processor)
	c.field("facts.storageLocation", f.StorageLocation)
	c.field("facts.transfer", f.Transfer)
	c.field("facts.supervisoryAuthority", f.SupervisoryAuthority)
	c.num("facts.defaulted", int64(len(f.Defaulted)))
	for _, d := range f.Defaulted {
		c.field("defaulted", d)
	}
	c.num("facts.languages", int64(len(f.Languages)))
	for _, l := range f.Languages {
		c.field("lang", l)
	}
	c.num("facts.extra", int64(len(f.Extra)))
	for _, x := range f.Extra {
		c.field("lang", x.Lang)
		c.field("text", x.Text)
	}
	if f.Policy == nil {
		c.field("facts.policy", "")
	} else {
		c.field("facts.policy", "present")
		c.num("policy.version", int64(f.Policy.Version))
		c.field("policy.sha256", f.Policy.SHA256)
	}
}

// OrgOf rebuilds the organisation facts a record's notice was rendered
// from, so that Library.RenderSet(r.Notice.ID, r.Notice.Version, OrgOf(r))
// reproduces every sha256 in r.Notice.Texts. ok is false for records
// written before facts existed (their free-text facts are not recorded).
func OrgOf(r *Record) (o OrgParams, ok bool) {
	if r.Facts == nil {
		return o, false
	}
	f := r.Facts
	o = OrgParams{Controller: r.Controller.Name, Contact: r.Controller.Contact, RetentionMonths: r.RetentionMonths,
		MinAge: r.MinAge, Jurisdiction: r.Jurisdiction, DPO: f.DPO, Processor: f.Processor, StorageLocation: f.StorageLocation,
		Transfer: f.Transfer, SupervisoryAuthority: f.SupervisoryAuthority, Purposes: append([]string(nil), r.Purposes...),
		Languages: append([]string(nil), f.Languages...)}
	for _, d := range f.Defaulted {
		switch d {
		case "processor":
			o.Processor = ""
		case "storageLocation":
			o.StorageLocation = ""
		case "transfer":
			o.Transfer = ""
		case "supervisoryAuthority":
			o.SupervisoryAuthority = ""
		}
	}
	if len(f.Extra) > 0 {
		o.Extra = map[string]string{}
		for _, x := range f.Extra {
			o.Extra[x.Lang] = x.Text
		}
	}
	return o, true
}

// RecordNotices renders the exact notice texts a record cites, from the
// library and the facts in the record, and checks each against the
// record's sha256. It fails with ErrNoticeMismatch if a text cannot be
// reproduced byte for byte.
func RecordNotices(l *Library, r *Record) ([]*Notice, error) {
	org, ok := OrgOf(r)
	if !ok {
		return nil, fmt.Errorf("%w: the record was written before it carried the organisation's facts; its notice texts cannot be rebuilt from it alone", ErrNoticeMismatch)
	}
	set, err := l.RenderSet(r.Notice.ID, r.Notice.Version, org)
	if err != nil {
		return nil, err
	}
	var out []*Notice
	for _, t := range r.Notice.Texts {
		n := set.Texts[t.Lang]
		if n == nil || n.SHA256 != t.SHA256 {
			return nil, fmt.Errorf("%w: notice %s/%s/%s does not render to the sha256 in the record", ErrNoticeMismatch, r.Notice.ID, r.Notice.Version, t.Lang)
		}
		out = append(out, n)
	}
	return out, nil
}
