// SPDX-License-Identifier: Apache-2.0

package swmodel

import "encoding/binary"

// Header lengths and field offsets of p4src/include/header.p4.
const (
	packetOutLen = 2
	ethernetLen  = 14
	vlanLen      = 4
	arpLen       = 28
	ipv4Len      = 20
	ipv6Len      = 40
	ipv6ExtLen   = 8
	ipv6FragLen  = 8
	tcpLen       = 20
	udpLen       = 8
	icmpLen      = 4
	icmpEchoLen  = 4
	icmpErrorLen = 4
	innerL4Len   = 8
)

// offset is where a header starts in the frame. The parser reaches at most
// a few kilobytes into a frame (two IPv6 extension headers of at most 2 KB
// each are the longest), so 16 bits hold it and headers stays small: it is
// set up anew for every packet.
type offset int16

// absent marks a header that is not valid.
const absent offset = -1

// headers mirrors headers_t: each field is the offset of that header in the
// frame, or absent. Fields are read straight from the frame, so parsing
// copies nothing.
type headers struct {
	packetOut, ethernet, vlan, arp                  offset
	ipv4, ipv4Options, ipv6                         offset
	ipv6Ext0, ipv6Ext0Data, ipv6Ext1, ipv6Ext1Data  offset
	ipv6Frag, tcp, udp, icmp, icmpEcho, icmpError   offset
	innerIPv4, innerIPv4Options, innerIPv6, innerL4 offset
}

// noHeaders has every header invalid.
var noHeaders = headers{absent, absent, absent, absent, absent, absent, absent, absent, absent,
	absent, absent, absent, absent, absent, absent, absent, absent, absent, absent, absent, absent}

func valid(off offset) bool { return off != absent }

func u16(b []byte, off offset) uint16 { return binary.BigEndian.Uint16(b[off:]) }

// Field accessors; off is the header's offset.
func ipv4Version(b []byte, off offset) uint8     { return b[off] >> 4 }
func ipv4IHL(b []byte, off offset) uint8         { return b[off] & 0x0f }
func ipv4TotalLen(b []byte, off offset) uint16   { return u16(b, off+2) }
func ipv4MoreFrags(b []byte, off offset) bool    { return b[off+6]&0x20 != 0 }
func ipv4FragOffset(b []byte, off offset) uint16 { return u16(b, off+6) & 0x1fff }
func ipv4Protocol(b []byte, off offset) uint8    { return b[off+9] }
func ipv4Src(b []byte, off offset) []byte        { return b[off+12 : off+16] }
func ipv4Dst(b []byte, off offset) []byte        { return b[off+16 : off+20] }

func ipv6Version(b []byte, off offset) uint8     { return b[off] >> 4 }
func ipv6PayloadLen(b []byte, off offset) uint16 { return u16(b, off+4) }
func ipv6NextHdr(b []byte, off offset) uint8     { return b[off+6] }
func ipv6Src(b []byte, off offset) []byte        { return b[off+8 : off+24] }
func ipv6Dst(b []byte, off offset) []byte        { return b[off+24 : off+40] }
