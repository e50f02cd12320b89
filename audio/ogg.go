package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Ogg page header flags (RFC 3533 §6).
const (
	oggContinued = 0x01
	oggBOS       = 0x02
	oggEOS       = 0x04
)

const (
	oggHeaderLen   = 27
	oggMaxSegments = 255
	// maxOggPacket is the largest packet the muxer accepts: it must fit in one
	// page (255 lacing values of 255 bytes, the last < 255). Opus packets are
	// at most 1275 bytes per 20 ms frame, far below this.
	maxOggPacket = oggMaxSegments*255 - 1
)

var oggCRCTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for j := 0; j < 8; j++ {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

// oggCRC is the Ogg page checksum: CRC-32, polynomial 0x04c11db7, initial
// value 0, not reflected, no final XOR.
func oggCRC(crc uint32, b []byte) uint32 {
	for _, c := range b {
		crc = crc<<8 ^ oggCRCTable[byte(crc>>24)^c]
	}
	return crc
}

// OggMuxer packs packets of one logical bitstream into Ogg pages, many
// packets per page. It never splits a packet across pages. It is not safe
// for concurrent use.
type OggMuxer struct {
	serial  uint32
	seq     uint32
	lacing  []byte
	body    []byte
	packets int
	granule int64 // granule position of the last packet added
	started bool  // BOS page written
	ended   bool  // EOS page written
}

// NewOggMuxer returns a muxer for the logical bitstream with the given serial number.
func NewOggMuxer(serial uint32) *OggMuxer {
	return &OggMuxer{serial: serial, lacing: make([]byte, 0, oggMaxSegments), body: make([]byte, 0, 8192)}
}

// Pending is the number of packets waiting for the current page.
func (m *OggMuxer) Pending() int { return m.packets }

// Granule is the granule position of the last packet added.
func (m *OggMuxer) Granule() int64 { return m.granule }

// PageSeq is the sequence number the next page will carry.
func (m *OggMuxer) PageSeq() uint32 { return m.seq }

// HeaderPage writes pkt alone on its own page with the given granule
// position (0 for codec headers); the first page written is marked BOS.
func (m *OggMuxer) HeaderPage(pkt []byte) ([]byte, error) {
	if m.packets > 0 {
		return nil, errors.New("ogg: header page requested while data packets are pending")
	}
	if err := m.add(pkt); err != nil {
		return nil, err
	}
	m.packets = 1
	return m.page(0, 0), nil
}

// WritePacket adds one packet that ends at granule position granule. If the
// packet does not fit on the current page, the current page is completed
// and returned (the packet then starts the next page); otherwise it returns nil.
func (m *OggMuxer) WritePacket(pkt []byte, granule int64) ([]byte, error) {
	if m.ended {
		return nil, errors.New("ogg: packet after end of stream")
	}
	if len(pkt) > maxOggPacket {
		return nil, fmt.Errorf("ogg: packet of %d bytes is larger than one page can hold (%d)", len(pkt), maxOggPacket)
	}
	var out []byte
	if len(m.lacing)+len(pkt)/255+1 > oggMaxSegments {
		out = m.page(0, m.granule)
	}
	if err := m.add(pkt); err != nil {
		return nil, err
	}
	m.packets++
	m.granule = granule
	return out, nil
}

// Flush completes the current page and returns it; with eos it is marked as
// the last page of the stream (an empty page is written if nothing is
// pending). Without eos and with nothing pending it returns nil.
func (m *OggMuxer) Flush(eos bool) []byte {
	if m.ended {
		return nil
	}
	if m.packets == 0 && !eos {
		return nil
	}
	var flags byte
	if eos {
		flags = oggEOS
		m.ended = true
	}
	return m.page(flags, m.granule)
}

func (m *OggMuxer) add(pkt []byte) error {
	n := len(pkt)
	for n >= 255 {
		m.lacing = append(m.lacing, 255)
		n -= 255
	}
	m.lacing = append(m.lacing, byte(n))
	m.body = append(m.body, pkt...)
	return nil
}

func (m *OggMuxer) page(flags byte, granule int64) []byte {
	if !m.started {
		flags |= oggBOS
		m.started = true
	}
	p := make([]byte, oggHeaderLen+len(m.lacing)+len(m.body))
	copy(p, "OggS")
	p[4] = 0
	p[5] = flags
	binary.LittleEndian.PutUint64(p[6:], uint64(granule))
	binary.LittleEndian.PutUint32(p[14:], m.serial)
	binary.LittleEndian.PutUint32(p[18:], m.seq)
	p[26] = byte(len(m.lacing))
	copy(p[oggHeaderLen:], m.lacing)
	copy(p[oggHeaderLen+len(m.lacing):], m.body)
	binary.LittleEndian.PutUint32(p[22:], oggCRC(0, p))
	m.seq++
	m.lacing = m.lacing[:0]
	m.body = m.body[:0]
	m.packets = 0
	return p
}

// DefaultPreSkip is the pre-skip written to OpusHead: libopus' encoder
// look-ahead at 48 kHz (RFC 7845 recommends at least 3840 samples of
// pre-roll for seeking; pre-skip itself is the encoder delay).
const DefaultPreSkip = 312

// opusHead builds an OpusHead packet (RFC 7845 §5.1), channel mapping family 0.
func opusHead(channels, preSkip int) []byte {
	h := make([]byte, 19)
	copy(h, "OpusHead")
	h[8] = 1
	h[9] = byte(channels)
	binary.LittleEndian.PutUint16(h[10:], uint16(preSkip))
	binary.LittleEndian.PutUint32(h[12:], SampleRate)
	// output gain 0, mapping family 0
	return h
}

// opusTags builds an OpusTags packet (RFC 7845 §5.2).
func opusTags(vendor string, comments ...string) []byte {
	n := 8 + 4 + len(vendor) + 4
	for _, c := range comments {
		n += 4 + len(c)
	}
	t := make([]byte, 0, n)
	t = append(t, "OpusTags"...)
	t = binary.LittleEndian.AppendUint32(t, uint32(len(vendor)))
	t = append(t, vendor...)
	t = binary.LittleEndian.AppendUint32(t, uint32(len(comments)))
	for _, c := range comments {
		t = binary.LittleEndian.AppendUint32(t, uint32(len(c)))
		t = append(t, c...)
	}
	return t
}

// OpusHeaderPages returns the two header pages of an Ogg Opus stream
// (OpusHead on the BOS page, OpusTags on the next), concatenated.
func (m *OggMuxer) OpusHeaderPages(channels, preSkip int) ([]byte, error) {
	if channels < 1 || channels > 2 {
		return nil, fmt.Errorf("ogg: %d channels; only mono and stereo are supported", channels)
	}
	if m.started {
		return nil, errors.New("ogg: header pages must come first in the stream")
	}
	head, err := m.HeaderPage(opusHead(channels, preSkip))
	if err != nil {
		return nil, err
	}
	tags, err := m.HeaderPage(opusTags("assent (libopus)"))
	if err != nil {
		return nil, err
	}
	return append(head, tags...), nil
}
