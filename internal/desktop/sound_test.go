package desktop

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePulseServer(t *testing.T) {
	got := parsePulseServer("{abc}unix:/run/pulse/native  tcp:host:4713 {x}")
	want := []string{"unix:/run/pulse/native", "tcp:host:4713"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// $PULSE_SERVER is outside input: any value parses without a panic into
// addresses without spaces.
func FuzzParsePulseServer(f *testing.F) {
	for _, s := range []string{"", "unix:/x", "{id}tcp:h:1 unix:/y", "{", "}{", "   "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, a := range parsePulseServer(s) {
			if a == "" || strings.ContainsAny(a, " \t\n") {
				t.Fatalf("%q gave address %q", s, a)
			}
		}
	})
}
