// SPDX-License-Identifier: Apache-2.0

package swmodel

// parser mirrors SymdistParser (p4src/include/parser.p4) state by state.
// The P4 parser also sets meta.ipv4_header_len and meta.l4_needed, as
// constants of its per-IHL and per-protocol states (so that Tofino spends no
// MAU stage on them); the model computes the same values where they are
// read, in headerCheck and keySelect.
// Like bmv2, it stops at the first header the frame is too short for and
// leaves that header and all later ones invalid; the frame still goes on to
// ingress. Each state takes the position of its header as an argument, and
// reads its fields there, so that the position stays in a register rather
// than being stored in headers and loaded back.
type parser struct {
	b []byte
	h *headers
	m *localMetadata
}

// extract marks the header of n bytes at pos valid and returns the
// position after it, or reports false (PacketTooShort) when the frame ends
// first.
func (p *parser) extract(hdr *offset, pos, n int) (int, bool) {
	if n > len(p.b)-pos {
		return pos, false
	}
	*hdr = offset(pos)
	return pos + n, true
}

// parse fills h, which must start as noHeaders.
func parse(frame []byte, ingressPort uint16, h *headers, m *localMetadata) {
	m.ipv6ExtLen = 0
	// Set field by field: a composite literal is built aside and then
	// copied, which stalls the load of the copy on the stores before it.
	var p parser
	p.b, p.h, p.m = frame, h, m
	pos := 0
	if ingressPort == CPUPort {
		var ok bool
		if pos, ok = p.extract(&h.packetOut, pos, packetOutLen); !ok {
			return
		}
	}
	p.parseEthernet(pos)
}

func (p *parser) parseEthernet(pos int) {
	eth := offset(pos)
	pos, ok := p.extract(&p.h.ethernet, pos, ethernetLen)
	if !ok {
		return
	}
	switch u16(p.b, eth+12) {
	case etherTypeVLAN, etherTypeQinQ:
		p.parseVLAN(pos)
	case etherTypeIPv4:
		p.parseIPv4(pos)
	case etherTypeIPv6:
		p.parseIPv6(pos)
	case etherTypeARP:
		p.extract(&p.h.arp, pos, arpLen)
	}
}

func (p *parser) parseVLAN(pos int) {
	vlan := offset(pos)
	pos, ok := p.extract(&p.h.vlan, pos, vlanLen)
	if !ok {
		return
	}
	switch u16(p.b, vlan+2) {
	case etherTypeIPv4:
		p.parseIPv4(pos)
	case etherTypeIPv6:
		p.parseIPv6(pos)
	case etherTypeARP:
		p.extract(&p.h.arp, pos, arpLen)
	}
}

// ipv4AndOptions mirrors parse_ipv4 and parse_ipv4_options (and their
// inner_ twins for ICMP errors): the header, its options, and whether an L4
// header follows (IHL at least 5, not a later fragment), at the position
// it returns.
func (p *parser) ipv4AndOptions(hdr, opts *offset, pos int) (int, bool) {
	ip := offset(pos)
	pos, ok := p.extract(hdr, pos, ipv4Len)
	if !ok {
		return pos, false
	}
	ihl := int(ipv4IHL(p.b, ip))
	switch {
	case ihl < 5:
		return pos, false
	case ihl > 5:
		if pos, ok = p.extract(opts, pos, (ihl-5)*4); !ok {
			return pos, false
		}
	}
	return pos, ipv4FragOffset(p.b, ip) == 0
}

func (p *parser) parseIPv4(pos int) {
	ip := offset(pos)
	pos, ok := p.ipv4AndOptions(&p.h.ipv4, &p.h.ipv4Options, pos)
	if !ok {
		return
	}
	switch ipv4Protocol(p.b, ip) {
	case ipProtoTCP:
		p.extract(&p.h.tcp, pos, tcpLen)
	case ipProtoUDP:
		p.extract(&p.h.udp, pos, udpLen)
	case ipProtoICMP:
		p.parseICMPv4(pos)
	}
}

func (p *parser) parseIPv6(pos int) {
	ip := offset(pos)
	pos, ok := p.extract(&p.h.ipv6, pos, ipv6Len)
	if !ok {
		return
	}
	p.parseIPv6Next(ipv6NextHdr(p.b, ip), 0, pos)
}

// parseIPv6Next follows a Next Header value; depth counts the extension
// headers already parsed (parse_ipv6_ext0, parse_ipv6_ext1).
func (p *parser) parseIPv6Next(next uint8, depth, pos int) {
	switch next {
	case ipv6HopByHop, ipv6Routing, ipv6DestOpts:
		switch depth {
		case 0:
			p.parseIPv6Ext(&p.h.ipv6Ext0, &p.h.ipv6Ext0Data, 1, pos)
		case 1:
			p.parseIPv6Ext(&p.h.ipv6Ext1, &p.h.ipv6Ext1Data, 2, pos)
		}
		// A third extension header is not parsed.
	case ipv6Fragment:
		p.extract(&p.h.ipv6Frag, pos, ipv6FragLen)
	case ipProtoTCP:
		p.extract(&p.h.tcp, pos, tcpLen)
	case ipProtoUDP:
		p.extract(&p.h.udp, pos, udpLen)
	case ipProtoICMPv6:
		p.parseICMPv6(pos)
	}
}

func (p *parser) parseIPv6Ext(ext, data *offset, depth, pos int) {
	start := pos
	pos, ok := p.extract(ext, pos, ipv6ExtLen)
	if !ok {
		return
	}
	extLen := int(p.b[start+1])
	if pos, ok = p.extract(data, pos, extLen*8); !ok {
		return
	}
	p.m.ipv6ExtLen += uint16(extLen*8 + 8)
	p.parseIPv6Next(p.b[start], depth, pos)
}

func (p *parser) parseICMPv4(pos int) {
	icmp := pos
	pos, ok := p.extract(&p.h.icmp, pos, icmpLen)
	if !ok {
		return
	}
	switch p.b[icmp] {
	case 0, 8:
		p.extract(&p.h.icmpEcho, pos, icmpEchoLen)
	case 3, 4, 5, 11, 12:
		p.parseICMPErrorV4(pos)
	}
}

func (p *parser) parseICMPv6(pos int) {
	icmp := pos
	pos, ok := p.extract(&p.h.icmp, pos, icmpLen)
	if !ok {
		return
	}
	switch p.b[icmp] {
	case 128, 129:
		p.extract(&p.h.icmpEcho, pos, icmpEchoLen)
	case 1, 2, 3, 4:
		p.parseICMPErrorV6(pos)
	}
}

func (p *parser) parseICMPErrorV4(pos int) {
	pos, ok := p.extract(&p.h.icmpError, pos, icmpErrorLen)
	if !ok {
		return
	}
	inner := offset(pos)
	if pos, ok = p.ipv4AndOptions(&p.h.innerIPv4, &p.h.innerIPv4Options, pos); !ok {
		return
	}
	switch ipv4Protocol(p.b, inner) {
	case ipProtoTCP, ipProtoUDP:
		p.extract(&p.h.innerL4, pos, innerL4Len)
	}
}

func (p *parser) parseICMPErrorV6(pos int) {
	pos, ok := p.extract(&p.h.icmpError, pos, icmpErrorLen)
	if !ok {
		return
	}
	inner := offset(pos)
	if pos, ok = p.extract(&p.h.innerIPv6, pos, ipv6Len); !ok {
		return
	}
	switch ipv6NextHdr(p.b, inner) {
	case ipProtoTCP, ipProtoUDP:
		p.extract(&p.h.innerL4, pos, innerL4Len)
	}
}
