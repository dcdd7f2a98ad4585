// SPDX-License-Identifier: Apache-2.0

// Package capture reads pcap and pcapng files defensively: every malformed
// file gives an error naming the packet and the byte offset of its record,
// memory stays bounded whatever lengths a file claims, and packets come out
// as Ethernet frames, the only framing the pipeline takes (raw IPv4/IPv6
// captures are wrapped in a fixed Ethernet header; see Ethernet).
//
// NewReader detects the format and gives packets one by one, with their
// index and the offset of their record. A file cut short, a length beyond
// its block or over MaxCaptureLength, blocks whose lengths disagree, a
// packet before its interface and an unsupported link type are each an
// *Error; FuzzReader checks that memory stays bounded. Classic pcap is read
// by gopacket's pcapgo with its snap length capped; pcapng by a reader of
// our own (ng.go says why). `symdist decide` reads its captures here.
package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// MaxCaptureLength is the most bytes of one packet a Reader accepts,
// whatever the file's snap length or a record's captured length claims: a
// record claiming more is an error, never an allocation of that size. It is
// 256 KiB, the largest snap length tcpdump and Wireshark use.
const MaxCaptureLength = 256 << 10

// Link types a Reader gives out; others are refused (pcap: when opened;
// pcapng: at the first packet of such an interface).
var supported = map[layers.LinkType]string{
	layers.LinkTypeEthernet: "Ethernet",
	layers.LinkTypeRaw:      "raw IP",
	layers.LinkTypeIPv4:     "raw IPv4",
	layers.LinkTypeIPv6:     "raw IPv6",
}

func checkLinkType(t layers.LinkType) error {
	if _, ok := supported[t]; ok {
		return nil
	}
	return fmt.Errorf("link type %d (%s) is not supported: want Ethernet (1), raw IP (101), raw IPv4 (228) or raw IPv6 (229)", uint16(t), t)
}

// Packet is one captured packet.
type Packet struct {
	Index    int   // 0-based, in file order
	Offset   int64 // byte offset of its record (pcap) or block (pcapng)
	LinkType layers.LinkType
	Data     []byte // as captured; the Reader reuses it on the next call
}

// Error is a malformed capture: where and what.
type Error struct {
	Index  int   // the packet being read (0-based); -1 for the file header
	Offset int64 // byte offset of the record, block or header at fault
	Err    error
}

func (e *Error) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("file header at byte %d: %v", e.Offset, e.Err)
	}
	return fmt.Sprintf("packet %d at byte %d: %v", e.Index, e.Offset, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// errTruncated is what a short read inside a record or block means.
var errTruncated = errors.New("the file ends inside this record (truncated)")

// truncated turns the end of the file inside a record into errTruncated.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errTruncated
	}
	return err
}

// Reader gives the packets of a pcap or pcapng file one by one.
type Reader struct {
	next func() (Packet, error)
}

// Next returns the next packet, io.EOF after the last one, or an *Error.
// Once it has returned an error it is not called again by its users; a
// malformed file is never read past its first fault.
func (r *Reader) Next() (Packet, error) { return r.next() }

const pcapngMagic = 0x0A0D0D0A

// NewReader detects pcap or pcapng from the first bytes of r.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(4)
	if err != nil {
		return nil, &Error{Index: -1, Err: fmt.Errorf("neither pcap nor pcapng: %w", truncated(err))}
	}
	if binary.LittleEndian.Uint32(head) == pcapngMagic {
		return newNgReader(br)
	}
	return newPcapReader(br)
}

// newPcapReader reads classic pcap with gopacket's reader, which checks a
// record's length against the snap length before allocating: the snap
// length is set to MaxCaptureLength so that a header claiming 4 GiB cannot
// make it allocate 4 GiB (and a file whose records exceed its own snap
// length, as some writers make, still reads, as in tcpdump).
func newPcapReader(br *bufio.Reader) (*Reader, error) {
	pr, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, &Error{Index: -1, Err: fmt.Errorf("neither pcap nor pcapng: %w", truncated(err))}
	}
	if err := checkLinkType(pr.LinkType()); err != nil {
		return nil, &Error{Index: -1, Err: err}
	}
	pr.SetSnaplen(MaxCaptureLength)
	const fileHeader, recordHeader = 24, 16
	offset, index := int64(fileHeader), 0
	return &Reader{next: func() (Packet, error) {
		data, ci, err := pr.ZeroCopyReadPacketData()
		if err == io.EOF && ci.Timestamp.IsZero() { // no byte of a next record
			return Packet{}, io.EOF
		}
		if err != nil {
			return Packet{}, &Error{Index: index, Offset: offset, Err: truncated(err)}
		}
		p := Packet{Index: index, Offset: offset, LinkType: pr.LinkType(), Data: data}
		offset += recordHeader + int64(len(data))
		index++
		return p, nil
	}}, nil
}
