package consent

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
)

// DefaultNoticeID is the id of the call-recording notice Assent ships.
const DefaultNoticeID = "call-recording"

// Defaults and limits of the organisation parameters.
const (
	DefaultRetentionMonths = 36
	DefaultMinAge          = 16
	MinMinAge              = 13
	MaxMinAge              = 18
)

// OrgParams are the organisation's facts rendered into a notice template
// (as {{.Controller}}, {{.Contact}}, …). Zero values of the optional fields
// are replaced by the defaults of [OrgParams.WithDefaults].
type OrgParams struct {
	Controller           string // required: who decides about the recordings (the organisation)
	Contact              string // required: where to ask questions or exercise rights (e-mail or URL)
	RetentionMonths      int    // default 36
	MinAge               int    // default 16, allowed 13–18
	Processor            string // who processes the recordings on the controller's behalf
	StorageLocation      string // where recordings are stored
	Transfer             string // cross-border transfer statement
	SupervisoryAuthority string // where to complain
	Jurisdiction         string // legal system of the controller, e.g. "EU" or "NL"
	// DPO is the data protection officer and how to reach them ("" = none);
	// a notice that has {{.DPOLine}} states it.
	DPO string `json:",omitempty"`
	// Purposes are purpose ids (see [PurposeIDs]); default note-taking and
	// coaching. The notice states them ({{.PurposesText}}) and the record
	// lists them.
	Purposes []string `json:",omitempty"`
	// Languages are the notice languages offered (default: every language
	// the notice version has).
	Languages []string `json:",omitempty"`
	// Extra is the organisation's own text per language, shown at the end
	// of the notice ({{.ExtraText}}). If set, it must exist for every
	// language offered: no participant reads another language's text.
	Extra map[string]string `json:",omitempty"`
}

// WithDefaults returns p with empty optional fields set to Assent's defaults
// (free-text defaults in English; notices render them in their own language).
// Like released notice files, the default texts are never edited.
func (p OrgParams) WithDefaults() OrgParams {
	if p.RetentionMonths == 0 {
		p.RetentionMonths = DefaultRetentionMonths
	}
	if p.MinAge == 0 {
		p.MinAge = DefaultMinAge
	}
	if p.Processor == "" {
		p.Processor = "no one else: " + p.Controller + " runs Assent itself"
	}
	if p.StorageLocation == "" {
		p.StorageLocation = "encrypted on the host's computer and on " + p.Controller + "'s own server"
	}
	if p.Transfer == "" {
		p.Transfer = "none: the recording does not leave the countries where " + p.Controller + " operates"
	}
	if p.SupervisoryAuthority == "" {
		p.SupervisoryAuthority = "the data protection authority of the country where you live or work"
	}
	if p.Jurisdiction == "" {
		p.Jurisdiction = "EU"
	}
	return p
}

// localDefaults are the free-text defaults in the notice's language. They
// are part of the rendered, hashed text: like released notice files, they are
// never edited (Library.Check of old records would fail); %s is
// the controller.
var localDefaults = map[string][4]string{ // processor, storage, transfer, authority
	"nl": {"niemand anders: %s gebruikt Assent zelf", "versleuteld op de computer van de host en op de eigen server van %s",
		"geen: de opname verlaat de landen waarin %s actief is niet", "de gegevensbeschermingsautoriteit van het land waar u woont of werkt"},
	"de": {"niemand sonst: %s betreibt Assent selbst", "verschlüsselt auf dem Computer des Gastgebers und auf dem eigenen Server von %s",
		"keine: die Aufnahme verlässt die Länder, in denen %s tätig ist, nicht", "die Datenschutzaufsichtsbehörde des Landes, in dem Sie wohnen oder arbeiten"},
	"fr": {"personne d'autre : %s exploite Assent lui-même", "chiffré sur l'ordinateur de l'hôte et sur le propre serveur de %s",
		"aucun : l'enregistrement ne quitte pas les pays où %s exerce ses activités", "l'autorité de protection des données du pays où vous vivez ou travaillez"},
}

// localized fills empty free-text fields with defaults in lang (English
// where Assent has no translation), then the remaining defaults.
func (p OrgParams) localized(lang string) OrgParams {
	if d, ok := localDefaults[lang]; ok {
		for i, f := range []*string{&p.Processor, &p.StorageLocation, &p.Transfer, &p.SupervisoryAuthority} {
			if *f == "" {
				if i < 3 {
					*f = fmt.Sprintf(d[i], p.Controller)
				} else {
					*f = d[i]
				}
			}
		}
	}
	return p.WithDefaults()
}

// Validate reports the first problem of p (after defaults) with what to fix.
func (p OrgParams) Validate() error {
	switch {
	case strings.TrimSpace(p.Controller) == "":
		return fmt.Errorf("%w: organisation name (controller) is empty; set it in the organisation settings", ErrBadOrg)
	case strings.TrimSpace(p.Contact) == "":
		return fmt.Errorf("%w: contact is empty; give an e-mail address or URL where people can exercise their rights", ErrBadOrg)
	case p.RetentionMonths < 1 || p.RetentionMonths > 240:
		return fmt.Errorf("%w: retention of %d months is outside 1–240", ErrBadOrg, p.RetentionMonths)
	case p.MinAge < MinMinAge || p.MinAge > MaxMinAge:
		return fmt.Errorf("%w: minimum age %d is outside %d–%d", ErrBadOrg, p.MinAge, MinMinAge, MaxMinAge)
	}
	return p.validateMore()
}

// NoticeRef names exactly the text a participant was shown.
type NoticeRef struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Lang    string `json:"lang"`
	SHA256  string `json:"sha256"` // hex SHA-256 of the exact rendered text
}

// Notice is one rendered notice text.
type Notice struct {
	NoticeRef
	Text string // the exact text shown (Markdown)
}

// NoticeSet is one notice version rendered in every language it exists in,
// for one organisation. A Session is bound to one NoticeSet.
type NoticeSet struct {
	ID      string
	Version string
	Org     OrgParams          // with defaults applied
	Given   OrgParams          // as given (before defaults)
	Texts   map[string]*Notice // by language
	Policy  *PolicyRef         // the signed policy it was rendered from, if any
}

// Langs returns the languages of the set, sorted.
func (s *NoticeSet) Langs() []string {
	out := make([]string, 0, len(s.Texts))
	for l := range s.Texts {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Library loads notice templates from one or more trees laid out as
// <id>/<version>/<lang>.md. For a given id and version the first tree that
// has that version directory wins, so an organisation's own directory
// placed first overrides the shipped texts without code changes.
type Library struct {
	trees []fs.FS
}

// NewLibrary returns a library over the given trees, searched in order
// (e.g. NewLibrary(os.DirFS(orgDir), assets.Notices())).
func NewLibrary(trees ...fs.FS) *Library {
	return &Library{trees: append([]fs.FS(nil), trees...)}
}

var (
	idRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	verRe  = regexp.MustCompile(`^[0-9]{1,6}(\.[0-9]{1,6}){0,2}$`)
	langRe = regexp.MustCompile(`^[a-z]{2,3}(-[A-Z]{2})?$`)
)

// Versions lists the versions of notice id over all trees, oldest first.
func (l *Library) Versions(id string) ([]string, error) {
	if !idRe.MatchString(id) {
		return nil, fmt.Errorf("%w: notice id %q is not of the form [a-z0-9-]", ErrNoNotice, id)
	}
	seen := map[string]bool{}
	for _, t := range l.trees {
		ents, err := fs.ReadDir(t, id)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.IsDir() && verRe.MatchString(e.Name()) {
				seen[e.Name()] = true
			}
		}
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("%w: no versions of notice %q found", ErrNoNotice, id)
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return compareVersions(out[i], out[j]) < 0 })
	return out, nil
}

// Latest returns the newest version of notice id.
func (l *Library) Latest(id string) (string, error) {
	vs, err := l.Versions(id)
	if err != nil {
		return "", err
	}
	return vs[len(vs)-1], nil
}

func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func (l *Library) tree(id, version string) (fs.FS, error) {
	if !idRe.MatchString(id) || !verRe.MatchString(version) {
		return nil, fmt.Errorf("%w: bad notice id %q or version %q", ErrNoNotice, id, version)
	}
	for _, t := range l.trees {
		if st, err := fs.Stat(t, path.Join(id, version)); err == nil && st.IsDir() {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w: notice %s version %s is not in the library", ErrNoNotice, id, version)
}

// Render renders notice id/version in lang for org.
func (l *Library) Render(id, version, lang string, org OrgParams) (*Notice, error) {
	if !langRe.MatchString(lang) {
		return nil, fmt.Errorf("%w: language %q is not a code like \"en\" or \"pt-BR\"", ErrNoNotice, lang)
	}
	t, err := l.tree(id, version)
	if err != nil {
		return nil, err
	}
	if err := org.WithDefaults().Validate(); err != nil {
		return nil, err
	}
	return render(t, id, version, lang, org)
}

func render(t fs.FS, id, version, lang string, org OrgParams) (*Notice, error) {
	name := path.Join(id, version, lang+".md")
	src, err := fs.ReadFile(t, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: notice %s version %s has no %q text", ErrNoNotice, id, version, lang)
		}
		return nil, fmt.Errorf("%w: reading %s: %v", ErrNoNotice, name, err)
	}
	tpl, err := template.New(name).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("%w: notice template %s: %v; fix the template", ErrNoNotice, name, err)
	}
	if err := plainTemplate(tpl); err != nil {
		return nil, fmt.Errorf("%w: notice template %s: %v", ErrNoNotice, name, err)
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, noticeDataFor(org, lang)); err != nil {
		return nil, fmt.Errorf("%w: notice template %s: %v; it may only use the fields of OrgParams", ErrNoNotice, name, err)
	}
	text := b.String()
	sum := sha256.Sum256([]byte(text))
	return &Notice{
		NoticeRef: NoticeRef{ID: id, Version: version, Lang: lang, SHA256: hex.EncodeToString(sum[:])},
		Text:      text,
	}, nil
}

// RenderSet renders every language of notice id/version for org.
func (l *Library) RenderSet(id, version string, org OrgParams) (*NoticeSet, error) {
	t, err := l.tree(id, version)
	if err != nil {
		return nil, err
	}
	if err := org.WithDefaults().Validate(); err != nil {
		return nil, err
	}
	ents, err := fs.ReadDir(t, path.Join(id, version))
	if err != nil {
		return nil, fmt.Errorf("%w: reading notice %s version %s: %v", ErrNoNotice, id, version, err)
	}
	set := &NoticeSet{ID: id, Version: version, Org: org.WithDefaults(), Given: org, Texts: map[string]*Notice{}}
	for _, e := range ents {
		lang, ok := strings.CutSuffix(e.Name(), ".md")
		if e.IsDir() || !ok || !langRe.MatchString(lang) || !org.offers(lang) {
			continue
		}
		n, err := render(t, id, version, lang, org)
		if err != nil {
			return nil, err
		}
		set.Texts[lang] = n
	}
	if len(set.Texts) == 0 {
		return nil, fmt.Errorf("%w: notice %s version %s has no <lang>.md texts", ErrNoNotice, id, version)
	}
	for l := range set.Texts {
		if len(org.Extra) > 0 && strings.TrimSpace(org.Extra[l]) == "" {
			return nil, fmt.Errorf("%w: the organisation's extra text is missing in %q; give it in every language offered (or limit the languages offered)", ErrBadOrg, l)
		}
	}
	for _, l := range org.Languages {
		if set.Texts[l] == nil {
			return nil, fmt.Errorf("%w: the organisation offers language %q but notice %s version %s has no %s.md", ErrNoNotice, l, id, version, l)
		}
	}
	return set, nil
}

// Check reports whether ref names a text this library renders for org
// byte for byte (used to show a participant exactly what they accepted).
func (l *Library) Check(ref NoticeRef, org OrgParams) (*Notice, error) {
	n, err := l.Render(ref.ID, ref.Version, ref.Lang, org)
	if err != nil {
		return nil, err
	}
	if n.SHA256 != ref.SHA256 {
		return nil, fmt.Errorf("%w: notice %s/%s/%s renders to %s, the record says %s", ErrNoticeMismatch, ref.ID, ref.Version, ref.Lang, n.SHA256, ref.SHA256)
	}
	return n, nil
}

// plainTemplate allows only text and {{.Field}} actions, so an
// organisation's notice cannot loop, call functions or include other
// templates: the rendered text is a pure function of OrgParams.
func plainTemplate(t *template.Template) error {
	if len(t.Templates()) > 1 {
		return errors.New("defines other templates; only text and {{.Field}} are allowed")
	}
	for _, n := range t.Tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
		case *parse.ActionNode:
			if len(n.Pipe.Decl) != 0 || len(n.Pipe.Cmds) != 1 || len(n.Pipe.Cmds[0].Args) != 1 {
				return fmt.Errorf("%s is not allowed; only text and {{.Field}} are", n)
			}
			if f, ok := n.Pipe.Cmds[0].Args[0].(*parse.FieldNode); !ok || len(f.Ident) != 1 {
				return fmt.Errorf("%s is not allowed; only text and {{.Field}} are", n)
			}
		default:
			return fmt.Errorf("%s is not allowed; only text and {{.Field}} are", n)
		}
	}
	return nil
}
