package consent

import (
	"crypto/ed25519"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The example in docs/consent-record.md verifies with the key it names.
func TestDocExampleVerifies(t *testing.T) {
	doc, err := os.ReadFile("../docs/consent-record.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)Device public key\\s+\\(hex, a test key\\): `([0-9a-f]{64})`.*?```json\n(.*?)\n```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("no key and JSON example in docs/consent-record.md")
	}
	pub, _ := hex.DecodeString(string(m[1]))
	p, err := Verify(m[2], ed25519.PublicKey(pub))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Final || len(p.Spans) != 1 || p.Spans[0].To != 90*48000 || len(p.Spans[0].Participants) != 2 {
		t.Fatalf("example proof %+v", p)
	}
	set := testSet(t)
	for _, nt := range p.Record.Notice.Texts {
		if n := set.Texts[nt.Lang]; n == nil || n.SHA256 != nt.SHA256 {
			t.Errorf("example's %s notice hash is not the shipped text's; regenerate the example", nt.Lang)
		}
	}
	rc, err := Receipt(p.Record, "p1")
	if err != nil || !strings.Contains(rc, "0:00:00 – 0:01:30") {
		t.Fatalf("receipt %v\n%s", err, rc)
	}
}
