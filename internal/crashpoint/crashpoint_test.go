package crashpoint

import "testing"

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		name string
		n    int64
		ok   bool
	}{
		{"", "", 0, false},
		{"vault.segment.rename", "vault.segment.rename", 1, true},
		{"vault.segment.rename:3", "vault.segment.rename", 3, true},
		{" vault.meta.write:1 ", "vault.meta.write", 1, true},
		{"vault.segment.rename:0", "", 0, false},
		{"vault.segment.rename:-2", "", 0, false},
		{"vault.segment.rename:x", "", 0, false},
		{"no.such.point", "", 0, false},
	} {
		name, n, ok := Parse(c.in)
		if name != c.name || n != c.n || ok != c.ok {
			t.Errorf("Parse(%q) = %q, %d, %v; want %q, %d, %v", c.in, name, n, ok, c.name, c.n, c.ok)
		}
	}
}

func TestNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range All {
		if seen[p] {
			t.Errorf("crash point %q listed twice", p)
		}
		seen[p] = true
	}
}

func FuzzParse(f *testing.F) {
	f.Add("vault.segment.rename:3")
	f.Add(":")
	f.Fuzz(func(t *testing.T, s string) {
		name, n, ok := Parse(s)
		if ok && (!Known(name) || n < 1) {
			t.Fatalf("Parse(%q) accepted %q:%d", s, name, n)
		}
	})
}
