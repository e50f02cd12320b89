package audio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrNotOggOpus is returned (wrapped) when a stream is not Ogg Opus.
var ErrNotOggOpus = errors.New("not an Ogg Opus stream")

// ErrTruncated is returned (wrapped) when a stream ends inside a page or a
// packet: everything before the last whole page has been delivered.
var ErrTruncated = errors.New("the Ogg stream ends in the middle of a page")

// OggPage is one page of an Ogg bitstream.
type OggPage struct {
	Flags   byte   // 0x01 continued packet, 0x02 beginning of stream, 0x04 end of stream
	Granule int64  // granule position (-1: no packet ends on this page)
	Serial  uint32 // logical bitstream serial number
	Seq     uint32 // page sequence number
	Lacing  []byte // segment table
	Body    []byte
}

// OggReader reads Ogg pages and checks their CRC.
type OggReader struct {
	r   *bufio.Reader
	hdr [oggHeaderLen]byte
}

// NewOggReader returns a page reader for r.
func NewOggReader(r io.Reader) *OggReader {
	return &OggReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// ReadPage returns the next page. It returns io.EOF at a clean end of the
// stream and an error wrapping ErrTruncated if the stream stops inside a page.
func (o *OggReader) ReadPage() (*OggPage, error) {
	if n, err := io.ReadFull(o.r, o.hdr[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		if n >= 4 && string(o.hdr[:4]) != "OggS" {
			return nil, fmt.Errorf("ogg: no page capture pattern \"OggS\" where a page should start: %w", ErrNotOggOpus)
		}
		if err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("ogg: %w", ErrTruncated)
		}
		return nil, fmt.Errorf("ogg: reading page header: %w", err)
	}
	h := o.hdr[:]
	if string(h[:4]) != "OggS" {
		return nil, fmt.Errorf("ogg: no page capture pattern \"OggS\" where a page should start: %w", ErrNotOggOpus)
	}
	if h[4] != 0 {
		return nil, fmt.Errorf("ogg: page version %d is not supported (only 0): %w", h[4], ErrNotOggOpus)
	}
	p := &OggPage{
		Flags:   h[5],
		Granule: int64(binary.LittleEndian.Uint64(h[6:])),
		Serial:  binary.LittleEndian.Uint32(h[14:]),
		Seq:     binary.LittleEndian.Uint32(h[18:]),
	}
	want := binary.LittleEndian.Uint32(h[22:])
	nseg := int(h[26])
	p.Lacing = make([]byte, nseg)
	if _, err := io.ReadFull(o.r, p.Lacing); err != nil {
		return nil, truncated(err)
	}
	size := 0
	for _, l := range p.Lacing {
		size += int(l)
	}
	p.Body = make([]byte, size)
	if _, err := io.ReadFull(o.r, p.Body); err != nil {
		return nil, truncated(err)
	}
	var z [4]byte
	crc := oggCRC(0, h[:22])
	crc = oggCRC(crc, z[:])
	crc = oggCRC(crc, h[26:])
	crc = oggCRC(crc, p.Lacing)
	crc = oggCRC(crc, p.Body)
	if crc != want {
		return nil, fmt.Errorf("ogg: page %d is damaged (checksum mismatch)", p.Seq)
	}
	return p, nil
}

func truncated(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("ogg: %w", ErrTruncated)
	}
	return fmt.Errorf("ogg: reading page: %w", err)
}

// OpusHead is the identification header of an Ogg Opus stream (RFC 7845 §5.1).
type OpusHead struct {
	Channels   int
	PreSkip    int
	InputRate  uint32
	OutputGain int16 // Q7.8 dB
}

func parseOpusHead(b []byte) (OpusHead, error) {
	if len(b) < 19 || string(b[:8]) != "OpusHead" {
		return OpusHead{}, fmt.Errorf("ogg: first packet is not OpusHead: %w", ErrNotOggOpus)
	}
	if b[8]&0xf0 != 0 {
		return OpusHead{}, fmt.Errorf("ogg: OpusHead version %d is not supported", b[8])
	}
	h := OpusHead{
		Channels:   int(b[9]),
		PreSkip:    int(binary.LittleEndian.Uint16(b[10:])),
		InputRate:  binary.LittleEndian.Uint32(b[12:]),
		OutputGain: int16(binary.LittleEndian.Uint16(b[16:])),
	}
	if b[18] != 0 {
		return OpusHead{}, fmt.Errorf("ogg: channel mapping family %d is not supported (only mono/stereo family 0)", b[18])
	}
	if h.Channels < 1 || h.Channels > 2 {
		return OpusHead{}, fmt.Errorf("ogg: OpusHead says %d channels; family 0 allows 1 or 2", h.Channels)
	}
	return h, nil
}

// OpusReader reads the packets of one Ogg Opus logical stream. Pages of
// other logical streams (other serial numbers) are skipped.
type OpusReader struct {
	Head OpusHead

	pages   *OggReader
	serial  uint32
	page    *OggPage
	segIdx  int
	bodyOff int
	partial []byte
	eos     bool
}

// NewOpusReader reads the OpusHead and OpusTags headers of r and returns a
// reader positioned at the first audio packet.
func NewOpusReader(r io.Reader) (*OpusReader, error) {
	o := &OpusReader{pages: NewOggReader(r)}
	first, err := o.pages.ReadPage()
	if err == io.EOF {
		return nil, fmt.Errorf("ogg: the stream is empty: %w", ErrNotOggOpus)
	}
	if err != nil {
		return nil, err
	}
	if first.Flags&oggBOS == 0 {
		return nil, fmt.Errorf("ogg: first page is not a beginning-of-stream page: %w", ErrNotOggOpus)
	}
	o.serial = first.Serial
	o.page = first
	head, _, err := o.ReadPacket()
	if err != nil {
		return nil, fmt.Errorf("ogg: reading OpusHead: %w", err)
	}
	if o.Head, err = parseOpusHead(head); err != nil {
		return nil, err
	}
	tags, _, err := o.ReadPacket()
	if err != nil {
		return nil, fmt.Errorf("ogg: reading OpusTags: %w", err)
	}
	if len(tags) < 8 || string(tags[:8]) != "OpusTags" {
		return nil, fmt.Errorf("ogg: second packet is not OpusTags: %w", ErrNotOggOpus)
	}
	return o, nil
}

// ReadPacket returns the next packet and, if it is the last packet
// completed on its page, that page's granule position (otherwise -1). It
// returns io.EOF after the last packet, or an error wrapping ErrTruncated if
// the stream stops inside a page or a packet.
func (o *OpusReader) ReadPacket() ([]byte, int64, error) {
	for {
		if o.page != nil && o.segIdx < len(o.page.Lacing) {
			p := o.page
			start := o.bodyOff
			for o.segIdx < len(p.Lacing) {
				l := int(p.Lacing[o.segIdx])
				o.segIdx++
				o.bodyOff += l
				if l < 255 {
					pkt := append(o.partial, p.Body[start:o.bodyOff]...)
					o.partial = nil
					g := int64(-1)
					if o.lastPacketOnPage() {
						g = p.Granule
					}
					return pkt, g, nil
				}
			}
			// The packet continues on the next page.
			o.partial = append(o.partial, p.Body[start:o.bodyOff]...)
			if len(o.partial) > 1<<20 {
				return nil, 0, errors.New("ogg: a packet larger than 1 MiB; this is not an Opus stream")
			}
		}
		if o.eos {
			if len(o.partial) > 0 {
				return nil, 0, fmt.Errorf("ogg: %w", ErrTruncated)
			}
			return nil, 0, io.EOF
		}
		next, err := o.pages.ReadPage()
		if err == io.EOF {
			if len(o.partial) > 0 {
				return nil, 0, fmt.Errorf("ogg: %w", ErrTruncated)
			}
			return nil, 0, io.EOF
		}
		if err != nil {
			return nil, 0, err
		}
		if next.Serial != o.serial {
			continue
		}
		if (next.Flags&oggContinued != 0) != (len(o.partial) > 0) {
			// A lost page: drop the broken packet and resynchronise.
			o.partial = nil
			if next.Flags&oggContinued != 0 {
				o.page, o.segIdx, o.bodyOff = next, 0, 0
				o.skipContinuation()
				o.eos = next.Flags&oggEOS != 0
				continue
			}
		}
		o.page, o.segIdx, o.bodyOff = next, 0, 0
		o.eos = next.Flags&oggEOS != 0
	}
}

func (o *OpusReader) skipContinuation() {
	p := o.page
	for o.segIdx < len(p.Lacing) {
		l := int(p.Lacing[o.segIdx])
		o.segIdx++
		o.bodyOff += l
		if l < 255 {
			return
		}
	}
}

func (o *OpusReader) lastPacketOnPage() bool {
	for _, l := range o.page.Lacing[o.segIdx:] {
		if l < 255 {
			return false
		}
	}
	return true
}
