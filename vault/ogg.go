package vault

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// pageInfo is what the vault needs to know about the Ogg pages it stores:
// it never interprets audio, only page framing, the granule position of the
// last page that ends a packet, and the Opus pre-skip from OpusHead.
type pageInfo struct {
	pages    int
	granule  int64 // last granule position != -1, or -1 if none
	preSkip  int   // from OpusHead, or -1 if no OpusHead page was seen
	channels int
}

var errNotOgg = errors.New("not a complete Ogg page")

// scanPages walks data, which must be a sequence of complete Ogg pages, and
// updates info. It returns an error naming the byte offset of the first bad
// page. It does not check CRCs (the audio muxer is trusted to set them; the
// ciphertext hash in the metadata protects stored pages).
func scanPages(data []byte, info *pageInfo) error {
	off := 0
	for off < len(data) {
		p := data[off:]
		if len(p) < 27 || !bytes.Equal(p[:4], []byte("OggS")) {
			return fmt.Errorf("%w at byte %d (no OggS capture pattern)", errNotOgg, off)
		}
		if p[4] != 0 {
			return fmt.Errorf("%w at byte %d (unknown Ogg version %d)", errNotOgg, off, p[4])
		}
		nseg := int(p[26])
		if len(p) < 27+nseg {
			return fmt.Errorf("%w at byte %d (truncated segment table)", errNotOgg, off)
		}
		body := 0
		for _, l := range p[27 : 27+nseg] {
			body += int(l)
		}
		total := 27 + nseg + body
		if len(p) < total {
			return fmt.Errorf("%w at byte %d (page of %d bytes, only %d present)", errNotOgg, off, total, len(p))
		}
		granule := int64(binary.LittleEndian.Uint64(p[6:14]))
		if granule != -1 {
			info.granule = granule
		}
		payload := p[27+nseg : total]
		if p[5]&0x02 != 0 && len(payload) >= 19 && bytes.Equal(payload[:8], []byte("OpusHead")) {
			info.channels = int(payload[9])
			info.preSkip = int(binary.LittleEndian.Uint16(payload[10:12]))
		}
		info.pages++
		off += total
	}
	return nil
}

func newPageInfo() pageInfo { return pageInfo{granule: -1, preSkip: -1} }
