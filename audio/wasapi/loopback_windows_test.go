//go:build windows

package wasapi

import (
	"strings"
	"testing"
)

// TestDefaultOutputFoundByCoreAudio: the Core Audio side of the following
// — the default output's id, opening that device by id, and its friendly
// name for the settings — works on this Windows (run under Wine by make
// windows-smoke). Opening may be refused where loopback is missing (Wine
// 8), but then in plain words.
func TestDefaultOutputFoundByCoreAudio(t *testing.T) {
	ep, cleanup, err := comSetup()
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	id, err := ep.DefaultID()
	if err != nil || id == "" {
		t.Fatalf("default output id %q, %v", id, err)
	}
	again, err := ep.DefaultID()
	if err != nil || again != id {
		t.Fatalf("the default output's id changed without a change: %q, then %q (%v)", id, again, err)
	}
	c, err := ep.Open(id)
	if err != nil {
		if !strings.Contains(err.Error(), "output") {
			t.Fatalf("opening the default output failed without saying what: %v", err)
		}
		t.Logf("loopback refused here: %v", err)
	} else {
		if _, err := c.Drain(nil); err != nil {
			t.Fatalf("draining the loopback capture: %v", err)
		}
		c.Close()
	}
	name := DefaultOutputName()
	if name == "" {
		t.Fatal("the default output has no friendly name")
	}
	t.Logf("default output: %q", name)
}
