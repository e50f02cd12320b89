package workspace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/config"
)

// ErrOrgNotSet is returned when the organisation's name (controller) or
// contact is not set: nothing is recorded, because a participant must be
// told who records them and whom to ask.
var ErrOrgNotSet = errors.New("the organisation's name and contact are not set: participants must be told who records them and whom to ask. Set them in Settings (app) or with 'assent org set --controller NAME --contact EMAIL' (command line), then record")

// ErrNoPolicy is returned on an enrolled device that has not received its
// organisation's policy yet.
var ErrNoPolicy = errors.New("this laptop is enrolled but has not received its organisation's notice settings yet; connect to the network and sync once ('assent sync --once'), then record")

// OrgSource says where the organisation's facts of a notice set came from.
type OrgSource struct {
	// Enrolled is true when they came from the organisation's server
	// (policy.json): the app shows them read-only.
	Enrolled bool
	// PolicyVersion and PolicySHA256 identify the signed policy (enrolled).
	PolicyVersion int
	PolicySHA256  string
}

// LoadPolicy reads the organisation policy the sync client saved beside the
// settings file (config.PolicyPath). ok is false if there is none. The
// sync client checks the server's signature before saving; here the bytes
// are parsed strictly (no unknown fields) and validated.
func LoadPolicy(settingsPath string) (p consent.Policy, hash string, ok bool, err error) {
	b, err := os.ReadFile(config.PolicyPath(settingsPath))
	if errors.Is(err, fs.ErrNotExist) {
		return p, "", false, nil
	}
	if err != nil {
		return p, "", false, fmt.Errorf("the organisation's notice settings (%s) cannot be read: %w", config.PolicyPath(settingsPath), err)
	}
	p, hash, err = ParsePolicyFile(b)
	if err != nil {
		return p, "", false, fmt.Errorf("the organisation's notice settings (%s) %v", config.PolicyPath(settingsPath), err)
	}
	return p, hash, true, nil
}

// ParsePolicyFile parses the bytes of policy.json (a consent.SignedPolicy
// as the sync client saved it): strictly, with no unknown fields, and
// validated. The error says what to do in plain words.
func ParsePolicyFile(b []byte) (consent.Policy, string, error) {
	var p consent.Policy
	var sp consent.SignedPolicy
	if err := json.Unmarshal(b, &sp); err != nil || len(sp.Policy) == 0 {
		return p, "", errors.New("are damaged; sync again to receive them")
	}
	dec := json.NewDecoder(bytes.NewReader(sp.Policy))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, "", fmt.Errorf("cannot be read (%v); update Assent or sync again", err)
	}
	if dec.More() {
		return p, "", errors.New("have extra data after the policy; sync again")
	}
	if err := p.Validate(); err != nil {
		return p, "", fmt.Errorf("are not valid (%v); ask your administrator", err)
	}
	return p, sp.Hash(), nil
}

// NoticesAt renders the notice set a call on this device shows. An
// enrolled device (cfg.ServerURL set) uses the organisation's policy from
// its server; a device that is not enrolled uses the settings. Either way
// an unset controller or contact refuses (ErrOrgNotSet): no placeholder
// ever reaches a participant.
func NoticesAt(cfg config.Config, settingsPath string) (*consent.NoticeSet, *consent.Library, OrgSource, error) {
	trees := []fs.FS{}
	if cfg.NoticeDir != "" {
		trees = append(trees, os.DirFS(cfg.NoticeDir))
	}
	trees = append(trees, assets.Notices())
	lib := consent.NewLibrary(trees...)
	if cfg.ServerURL != "" {
		p, hash, ok, err := LoadPolicy(settingsPath)
		if err != nil {
			return nil, nil, OrgSource{}, err
		}
		if ok {
			if p.Org.Unset() {
				return nil, nil, OrgSource{}, fmt.Errorf("your organisation's notice settings have no name or contact; ask your administrator to set them ('assentd policy set' on the server)")
			}
			set, err := p.Notices(lib)
			if err != nil {
				return nil, nil, OrgSource{}, err
			}
			set.Policy = &consent.PolicyRef{Version: p.Version, SHA256: hash}
			return set, lib, OrgSource{Enrolled: true, PolicyVersion: p.Version, PolicySHA256: hash}, nil
		}
		if cfg.Org.Unset() {
			return nil, nil, OrgSource{}, ErrNoPolicy
		}
	}
	if cfg.Org.Unset() {
		return nil, nil, OrgSource{}, ErrOrgNotSet
	}
	ver, err := lib.Latest(consent.DefaultNoticeID)
	if err != nil {
		return nil, nil, OrgSource{}, err
	}
	set, err := lib.RenderSet(consent.DefaultNoticeID, ver, cfg.Org.Explicit())
	return set, lib, OrgSource{}, err
}

// NoticeFiles returns the exact notice texts a recording's consent record
// cites, named notice-<sha256>.md (the SHA-256 of the file's bytes is the
// sha256 in the record). The texts stored with the recording (vault
// notices/, verified against their names on read) are used as they are.
// A recording made before the texts were stored has none: its texts are
// rebuilt from the record's facts and the notice templates and checked byte
// for byte. A text that can be neither found nor reproduced is left out and
// README-notices.txt says why.
func NoticeFiles(v interface{ Record(string) ([]byte, error) }, id string) map[string][]byte {
	out := map[string][]byte{}
	data, err := v.Record(id)
	if err != nil || data == nil {
		return out
	}
	rec, err := consent.Parse(data)
	if err != nil {
		return out
	}
	missing := false
	if sv, ok := v.(interface {
		Notices(string) (map[string][]byte, error)
	}); ok {
		stored, err := sv.Notices(id)
		if err != nil {
			out["README-notices.txt"] = []byte("The notice texts stored with this recording could not be read: " + err.Error() + "\n")
			return out
		}
		for _, t := range rec.Notice.Texts {
			if b, ok := stored[t.SHA256]; ok {
				out["notice-"+t.SHA256+".md"] = b
			} else {
				missing = true
			}
		}
		if !missing {
			return out
		}
	}
	// Fallback for recordings made before the texts were stored with them:
	// rebuild the texts from the record's facts and the templates.
	cfg, _ := config.Load(config.Path())
	trees := []fs.FS{}
	if cfg.NoticeDir != "" {
		trees = append(trees, os.DirFS(cfg.NoticeDir))
	}
	trees = append(trees, assets.Notices())
	ns, err := consent.RecordNotices(consent.NewLibrary(trees...), rec)
	if err != nil {
		out["README-notices.txt"] = []byte("The notice texts of this recording could not be reproduced here: " + err.Error() + "\n")
		return out
	}
	for _, n := range ns {
		if _, ok := out["notice-"+n.SHA256+".md"]; !ok {
			out["notice-"+n.SHA256+".md"] = []byte(n.Text)
		}
	}
	return out
}

// Languages lists the notice languages a call on this device offers. It
// works before the organisation is set (the first-run and new-call screens
// need the list): then it lists the languages of the newest notice.
func Languages(cfg config.Config, settingsPath string) []string {
	if set, _, _, err := NoticesAt(cfg, settingsPath); err == nil {
		return set.Langs()
	}
	trees := []fs.FS{}
	if cfg.NoticeDir != "" {
		trees = append(trees, os.DirFS(cfg.NoticeDir))
	}
	trees = append(trees, assets.Notices())
	lib := consent.NewLibrary(trees...)
	ver, err := lib.Latest(consent.DefaultNoticeID)
	if err != nil {
		return []string{"en"}
	}
	// Rendered only to list its languages; never shown to anyone.
	set, err := lib.RenderSet(consent.DefaultNoticeID, ver, consent.OrgParams{Controller: "-", Contact: "-"})
	if err != nil {
		return []string{"en"}
	}
	return set.Langs()
}
