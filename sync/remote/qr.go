package remote

import (
	"fmt"

	"rsc.io/qr"
)

// QRCodePNG returns a PNG QR code of a consent URL (error correction M,
// 8 pixels per module, the standard 4-module quiet zone) for the host to
// show on screen, so people in the room or on a video call can scan it.
func QRCodePNG(url string) ([]byte, error) {
	c, err := qr.Encode(url, qr.M)
	if err != nil {
		return nil, fmt.Errorf("remote: the consent link cannot be shown as a QR code: %w", err)
	}
	return c.PNG(), nil
}

// qrModules returns the QR module grid of url (for tests).
func qrModules(url string) (func(x, y int) bool, int, error) {
	c, err := qr.Encode(url, qr.M)
	if err != nil {
		return nil, 0, err
	}
	return c.Black, c.Size, nil
}
