package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResourcesFromFyneApp: the version resource, icon and manifest come
// from the repository's FyneApp.toml, and the .ico is one Windows reads:
// a directory of PNG images, each at the offset and size it claims.
func TestResourcesFromFyneApp(t *testing.T) {
	out := t.TempDir()
	if err := run(filepath.Join("..", "..", "..", "FyneApp.toml"), out); err != nil {
		t.Fatal(err)
	}
	rc, err := os.ReadFile(filepath.Join(out, "assent.rc"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`1 ICON "assent.ico"`, `1 24 "assent.manifest"`, "FILEVERSION 0,1,0,", `VALUE "ProductName", "Assent"`, `VALUE "OriginalFilename", "assent.exe"`} {
		if !strings.Contains(string(rc), want) {
			t.Errorf("assent.rc lacks %q", want)
		}
	}
	ico, err := os.ReadFile(filepath.Join(out, "assent.ico"))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if le.Uint16(ico[0:]) != 0 || le.Uint16(ico[2:]) != 1 {
		t.Fatalf("not an icon file: header % x", ico[:6])
	}
	n := int(le.Uint16(ico[4:]))
	if n < 5 {
		t.Fatalf("%d images in the icon, want 16 to 256 px", n)
	}
	for i := 0; i < n; i++ {
		e := ico[6+16*i:]
		size, off := int(le.Uint32(e[8:])), int(le.Uint32(e[12:]))
		if off+size > len(ico) || !bytes.HasPrefix(ico[off:], []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("image %d (%d px) at %d+%d is not a PNG inside the file", i, e[0], off, size)
		}
	}
	m, err := os.ReadFile(filepath.Join(out, "assent.manifest"))
	if err != nil || !strings.Contains(string(m), `name="app.assent.recorder"`) || !strings.Contains(string(m), "asInvoker") {
		t.Fatalf("manifest: %v\n%s", err, m)
	}
}

// TestBadInputGetsClearError_FyneAppDetails: a FyneApp.toml the resources
// cannot be made from is refused with what to fix.
func TestBadInputGetsClearError_FyneAppDetails(t *testing.T) {
	for name, toml := range map[string]string{
		"no version":  "[Details]\nName = \"A\"\nID = \"a.b\"\nIcon = \"i.png\"\n",
		"bad version": "[Details]\nName = \"A\"\nID = \"a.b\"\nIcon = \"i.png\"\nVersion = \"1.2\"\n",
		"big number":  "[Details]\nName = \"A\"\nID = \"a.b\"\nIcon = \"i.png\"\nVersion = \"1.2.70000\"\n",
		"bad build":   "[Details]\nName = \"A\"\nID = \"a.b\"\nIcon = \"i.png\"\nVersion = \"1.2.3\"\nBuild = x\n",
	} {
		p := filepath.Join(t.TempDir(), "FyneApp.toml")
		os.WriteFile(p, []byte(toml), 0o644)
		err := run(p, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "FyneApp.toml") {
			t.Errorf("%s: %v, want an error naming the file", name, err)
		}
	}
}
