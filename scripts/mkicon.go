//go:build ignore

// mkicon draws assets/icons/assent.png: a rounded red record dot inside a
// check-mark ring. Run: go run scripts/mkicon.go
package main

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
)

func main() {
	const n = 512
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	c := float64(n) / 2
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			dx, dy := float64(x)+0.5-c, float64(y)+0.5-c
			d := math.Hypot(dx, dy)
			switch {
			case d < 120:
				img.Set(x, y, color.NRGBA{0xd9, 0x2d, 0x20, 0xff})
			case d > 170 && d < 220:
				img.Set(x, y, color.NRGBA{0x1f, 0x6f, 0x5c, 0xff})
			case d >= 220 && d < 224:
				a := uint8(255 * (224 - d) / 4)
				img.Set(x, y, color.NRGBA{0x1f, 0x6f, 0x5c, a})
			}
		}
	}
	f, err := os.Create("assets/icons/assent.png")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		panic(err)
	}
}
