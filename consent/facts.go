package consent

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
