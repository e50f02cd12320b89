package vault

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"
)

// Recording ids are 26 characters of lower-case Crockford base32 encoding
// 48 bits of Unix milliseconds followed by 80 random bits, so they sort by
// creation time (like ULIDs) and are safe as file names.
const idAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

const idLen = 26

func newID(t time.Time) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	if _, err := rand.Read(b[6:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	// 128 bits → 26 base32 digits (130 bits, the top 2 zero).
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	var out [idLen]byte
	for i := idLen - 1; i >= 0; i-- {
		out[i] = idAlphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// checkID rejects anything that is not a well-formed recording id, so an id
// can never name a path outside the vault.
func checkID(id string) error {
	if len(id) != idLen {
		return fmt.Errorf("vault: %q is not a recording id (want %d characters of 0-9 a-z); list recordings to see valid ids", clip(id), idLen)
	}
	if id[0] > '7' {
		return fmt.Errorf("vault: %q is not a recording id (first character out of range); list recordings to see valid ids", clip(id))
	}
	for i := 0; i < len(id); i++ {
		if !validIDChar(id[i]) {
			return fmt.Errorf("vault: %q is not a recording id (bad character %q); list recordings to see valid ids", clip(id), id[i])
		}
	}
	return nil
}

var idChars = func() (t [256]bool) {
	for i := 0; i < len(idAlphabet); i++ {
		t[idAlphabet[i]] = true
	}
	return
}()

func validIDChar(c byte) bool { return idChars[c] }

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
