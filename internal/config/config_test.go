package config

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestLoadMissingGivesDefaults(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "nope.json"))
	if err != nil {
		t.Fatal(err)
	}
	if o := c.Org.WithDefaults(); o.RetentionMonths != 36 || o.MinAge != 16 || !c.Chime {
		t.Fatalf("defaults not applied: %+v", c)
	}
	// No placeholder text: a fresh install has no controller or contact,
	// and recording is refused until they are set.
	if c.Org.Controller != "" || c.Org.Contact != "" || !c.Org.Unset() {
		t.Fatalf("the default settings name an organisation: %+v", c.Org)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a", "config.json")
	c := Default()
	c.Org.Controller, c.Org.Contact, c.Org.MinAge = "Acme BV", "privacy@acme.example", 18
	c.ServerURL, c.DeleteAfterSyncDays = "https://rec.acme.example", 30
	if err := Save(p, c); err != nil {
		t.Fatal(err)
	}
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Org.Controller != "Acme BV" || got.Org.MinAge != 18 || got.ServerURL != c.ServerURL || got.DeleteAfterSyncDays != 30 {
		t.Fatalf("round trip lost data: %+v", got)
	}
}

func TestBadInputGetsClearError_Config(t *testing.T) {
	for name, in := range map[string]string{
		"syntax":   `{"org": `,
		"unknown":  `{"colour": "red"}`,
		"minAge":   `{"org": {"controller": "A", "contact": "b", "minAge": 12}}`,
		"negative": `{"maxLocalDays": -1}`,
		"trailing": `{} {}`,
	} {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: got %v, want ErrBadConfig", name, err)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"org":{"controller":"A","contact":"b"},"chime":true}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err == nil {
			if verr := c.Org.ValidateStored(); verr != nil {
				t.Fatalf("Parse accepted an invalid org: %v", verr)
			}
		}
	})
}

func TestCallAudioIsOnByDefault(t *testing.T) {
	mic, call := Default().CaptureInputs()
	if mic != "" || call != CallOutput {
		t.Fatalf("a fresh install captures mic %q call %q; want the default input and what the computer plays", mic, call)
	}
	c := Default()
	c.CallInput = CallNone
	if _, call := c.CaptureInputs(); call != "" {
		t.Fatalf("\"none\" captures %q, want the microphone alone", call)
	}
	c.CallInput = "pulse:headset.monitor"
	if _, call := c.CaptureInputs(); call != "pulse:headset.monitor" {
		t.Fatalf("a chosen device became %q", call)
	}
}
