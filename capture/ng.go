// SPDX-License-Identifier: Apache-2.0

package capture

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/google/gopacket/layers"
)

// gopacket's pcapng reader is not used: it reports a file cut inside the
// last packet as a clean end (io.EOF), and it allocates whatever captured
// length a block claims, even beyond the block. This one checks every
// length against its block and the block against the file, and streams
// over blocks it does not need.

const (
	ngSectionHeader       = 0x0A0D0D0A
	ngInterfaceDescriptor = 1
	ngPacketObsolete      = 2
	ngSimplePacket        = 3
	ngEnhancedPacket      = 6
	ngByteOrderMagic      = uint32(0x1A2B3C4D)
)

type ngInterface struct {
	linkType layers.LinkType
	snaplen  uint32
}

type ngReader struct {
	r      *bufio.Reader
	order  binary.ByteOrder
	ifaces []ngInterface
	offset int64 // of the next block
	index  int   // of the next packet
	buf    []byte
	fail   error // once malformed, always malformed
}

func newNgReader(br *bufio.Reader) (*Reader, error) {
	ng := &ngReader{r: br, index: -1} // -1: the file header, in errors
	// The first block must be a section header (NewReader saw its type).
	head := make([]byte, 8)
	if err := ng.read(0, head); err != nil {
		return nil, err
	}
	if err := ng.sectionAfter(0, head); err != nil {
		return nil, err
	}
	ng.index = 0
	return &Reader{next: ng.next}, nil
}

func (ng *ngReader) errorf(offset int64, format string, args ...any) error {
	return &Error{Index: ng.index, Offset: offset, Err: fmt.Errorf(format, args...)}
}

// read fills b from the file or reports where it was cut.
func (ng *ngReader) read(start int64, b []byte) error {
	if _, err := io.ReadFull(ng.r, b); err != nil {
		return &Error{Index: ng.index, Offset: start, Err: truncated(err)}
	}
	return nil
}

func (ng *ngReader) skip(start int64, n int64) error {
	if _, err := io.CopyN(io.Discard, ng.r, n); err != nil {
		return &Error{Index: ng.index, Offset: start, Err: truncated(err)}
	}
	return nil
}

func (ng *ngReader) next() (Packet, error) {
	for ng.fail == nil {
		start := ng.offset
		p, ok, err := ng.packetBlock()
		if err != nil {
			ng.fail = err
			break
		}
		if ok {
			p.Index, p.Offset = ng.index, start
			ng.index++
			return p, nil
		}
	}
	return Packet{}, ng.fail
}

// packetBlock reads one block; ok is true when it held a packet.
func (ng *ngReader) packetBlock() (p Packet, ok bool, err error) {
	start := ng.offset
	head := make([]byte, 8)
	n, err := io.ReadFull(ng.r, head)
	if n == 0 && err == io.EOF {
		return p, false, io.EOF // the end, between blocks
	}
	if err != nil {
		return p, false, &Error{Index: ng.index, Offset: start, Err: truncated(err)}
	}
	if binary.LittleEndian.Uint32(head) == ngSectionHeader { // the same in both orders
		return p, false, ng.sectionAfter(start, head)
	}
	typ, length := ng.order.Uint32(head), ng.order.Uint32(head[4:])
	body, err := ng.bodyLength(start, length, 12)
	if err != nil {
		return p, false, err
	}
	switch typ {
	case ngInterfaceDescriptor:
		err = ng.interfaceDescriptor(start, body)
	case ngEnhancedPacket, ngPacketObsolete, ngSimplePacket:
		p, err = ng.packet(start, typ, body)
		ok = err == nil
	default:
		err = ng.skip(start, body)
	}
	if err == nil {
		err = ng.trailer(start, length)
	}
	return p, ok, err
}

// bodyLength checks a block's total length and returns the bytes between
// its 8-byte head and its 4-byte trailing length.
func (ng *ngReader) bodyLength(start int64, length, min uint32) (int64, error) {
	if length < min || length%4 != 0 {
		return 0, ng.errorf(start, "block length %d: want a multiple of 4, at least %d", length, min)
	}
	return int64(length) - 12, nil
}

func (ng *ngReader) trailer(start int64, length uint32) error {
	var t [4]byte
	if err := ng.read(start, t[:]); err != nil {
		return err
	}
	if got := ng.order.Uint32(t[:]); got != length {
		return ng.errorf(start, "block length %d at its start but %d at its end", length, got)
	}
	ng.offset = start + int64(length)
	return nil
}

// sectionAfter reads a section header block whose first 8 bytes are head:
// it sets the byte order and forgets the previous section's interfaces.
func (ng *ngReader) sectionAfter(start int64, head []byte) error {
	var rest [8]byte // byte-order magic, major and minor version
	if err := ng.read(start, rest[:]); err != nil {
		return err
	}
	switch ngByteOrderMagic {
	case binary.LittleEndian.Uint32(rest[:]):
		ng.order = binary.LittleEndian
	case binary.BigEndian.Uint32(rest[:]):
		ng.order = binary.BigEndian
	default:
		return ng.errorf(start, "section header without the byte-order magic 0x1A2B3C4D")
	}
	if major := ng.order.Uint16(rest[4:]); major != 1 {
		return ng.errorf(start, "pcapng version %d: want 1", major)
	}
	length := ng.order.Uint32(head[4:])
	body, err := ng.bodyLength(start, length, 28)
	if err != nil {
		return err
	}
	ng.ifaces = ng.ifaces[:0]
	if err := ng.skip(start, body-8); err != nil { // section length, options
		return err
	}
	return ng.trailer(start, length)
}

func (ng *ngReader) interfaceDescriptor(start, body int64) error {
	if body < 8 {
		return ng.errorf(start, "interface description block of %d bytes: want at least 20", body+12)
	}
	var b [8]byte
	if err := ng.read(start, b[:]); err != nil {
		return err
	}
	ng.ifaces = append(ng.ifaces, ngInterface{
		linkType: layers.LinkType(ng.order.Uint16(b[:])),
		snaplen:  ng.order.Uint32(b[4:]),
	})
	return ng.skip(start, body-8) // options
}

// packet reads an enhanced, simple or obsolete packet block's packet and
// skips its padding and options.
func (ng *ngReader) packet(start int64, typ uint32, body int64) (Packet, error) {
	fixed := int64(20) // interface, timestamp, captured and original length
	if typ == ngSimplePacket {
		fixed = 4 // original length
	}
	if body < fixed {
		return Packet{}, ng.errorf(start, "packet block of %d bytes: want at least %d", body+12, fixed+12)
	}
	var b [20]byte
	if err := ng.read(start, b[:fixed]); err != nil {
		return Packet{}, err
	}
	var iface, caplen uint32
	switch typ {
	case ngEnhancedPacket:
		iface, caplen = ng.order.Uint32(b[:]), ng.order.Uint32(b[12:])
	case ngPacketObsolete:
		iface, caplen = uint32(ng.order.Uint16(b[:])), ng.order.Uint32(b[12:])
	case ngSimplePacket: // captured length: the original, cut to the snap length and the block
		caplen = ng.order.Uint32(b[:])
		if len(ng.ifaces) > 0 && ng.ifaces[0].snaplen != 0 {
			caplen = min(caplen, ng.ifaces[0].snaplen)
		}
		caplen = uint32(min(int64(caplen), body-fixed))
	}
	if int(iface) >= len(ng.ifaces) {
		return Packet{}, ng.errorf(start, "interface %d: the section describes %d", iface, len(ng.ifaces))
	}
	if int64(caplen) > body-fixed {
		return Packet{}, ng.errorf(start, "captured length %d exceeds its block (%d bytes of packet data)", caplen, body-fixed)
	}
	if caplen > MaxCaptureLength {
		return Packet{}, ng.errorf(start, "captured length %d exceeds the %d-byte limit", caplen, MaxCaptureLength)
	}
	lt := ng.ifaces[iface].linkType
	if err := checkLinkType(lt); err != nil {
		return Packet{}, &Error{Index: ng.index, Offset: start, Err: err}
	}
	if cap(ng.buf) < int(caplen) {
		ng.buf = make([]byte, caplen)
	}
	data := ng.buf[:caplen]
	if err := ng.read(start, data); err != nil {
		return Packet{}, err
	}
	if err := ng.skip(start, body-fixed-int64(caplen)); err != nil { // padding, options
		return Packet{}, err
	}
	return Packet{LinkType: lt, Data: data}, nil
}
