package remote

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
)

func TestQRCodeOfALink(t *testing.T) {
	u := "https://assent.acme.example/c/" + strings.Repeat("A", 43)
	b, err := QRCodePNG(u)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	black, size, err := qrModules(u)
	if err != nil {
		t.Fatal(err)
	}
	// A version large enough for the URL, a square image with the quiet zone.
	if size < 29 || img.Bounds().Dx() != img.Bounds().Dy() || img.Bounds().Dx() != (size+8)*8 {
		t.Fatalf("size %d modules, image %v", size, img.Bounds())
	}
	// The three finder patterns: a dark 7×7 ring around a light ring around a dark 3×3 core.
	for _, o := range [][2]int{{0, 0}, {size - 7, 0}, {0, size - 7}} {
		for y := 0; y < 7; y++ {
			for x := 0; x < 7; x++ {
				ring := x == 0 || y == 0 || x == 6 || y == 6
				core := x >= 2 && x <= 4 && y >= 2 && y <= 4
				if black(o[0]+x, o[1]+y) != (ring || core) {
					t.Fatalf("finder pattern at %v broken at (%d,%d)", o, x, y)
				}
			}
		}
	}
	// The PNG shows the same modules, scaled, after the quiet zone.
	r, _, _, _ := img.At((4+0)*8+4, (4+0)*8+4).RGBA()
	w, _, _, _ := img.At(2*8, 2*8).RGBA()
	if r != 0 || w == 0 {
		t.Fatalf("PNG pixels: finder %d, quiet zone %d", r, w)
	}
	if _, err := QRCodePNG(strings.Repeat("x", 5000)); err == nil {
		t.Fatal("a text too long for any QR version was accepted")
	}
}
