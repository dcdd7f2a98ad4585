package swmodel

// parser mirrors SymdistParser (p4src/include/parser.p4) state by state.
// Like bmv2, it stops at the first header the frame is too short for and
// leaves that header and all later ones invalid; the frame still goes on to
// ingress.
type parser struct {
	b   []byte
	pos int
	h   *headers
	m   *localMetadata
}

// extract marks the header at the current position valid and moves past it,
// or reports false (PacketTooShort) when the frame ends first.
func (p *parser) extract(hdr *offset, n int) bool {
	if n > len(p.b)-p.pos {
		return false
	}
	*hdr = offset(p.pos)
	p.pos += n
	return true
}

// parse fills h, which must start as noHeaders.
func parse(frame []byte, ingressPort uint16, h *headers, m *localMetadata) {
	m.ipv6ExtLen = 0
	// Set field by field: a composite literal is built aside and then
	// copied, which stalls the load of the copy on the stores before it.
	var p parser
	p.b, p.h, p.m = frame, h, m
	if ingressPort == CPUPort {
		if !p.extract(&h.packetOut, packetOutLen) {
			return
		}
	}
	p.parseEthernet()
}

func (p *parser) parseEthernet() {
	if !p.extract(&p.h.ethernet, ethernetLen) {
		return
	}
	switch u16(p.b, p.h.ethernet+12) {
	case etherTypeVLAN, etherTypeQinQ:
		p.parseVLAN()
	case etherTypeIPv4:
		p.parseIPv4()
	case etherTypeIPv6:
		p.parseIPv6()
	case etherTypeARP:
		p.extract(&p.h.arp, arpLen)
	}
}

func (p *parser) parseVLAN() {
	if !p.extract(&p.h.vlan, vlanLen) {
		return
	}
	switch u16(p.b, p.h.vlan+2) {
	case etherTypeIPv4:
		p.parseIPv4()
	case etherTypeIPv6:
		p.parseIPv6()
	case etherTypeARP:
		p.extract(&p.h.arp, arpLen)
	}
}

// ipv4AndOptions mirrors parse_ipv4 and parse_ipv4_options (and their
// inner_ twins for ICMP errors): the header, its options, and whether an L4
// header follows (IHL at least 5, not a later fragment).
func (p *parser) ipv4AndOptions(hdr, opts *offset) bool {
	if !p.extract(hdr, ipv4Len) {
		return false
	}
	ihl := int(ipv4IHL(p.b, *hdr))
	switch {
	case ihl < 5:
		return false
	case ihl > 5:
		if !p.extract(opts, (ihl-5)*4) {
			return false
		}
	}
	return ipv4FragOffset(p.b, *hdr) == 0
}

func (p *parser) parseIPv4() {
	if !p.ipv4AndOptions(&p.h.ipv4, &p.h.ipv4Options) {
		return
	}
	switch ipv4Protocol(p.b, p.h.ipv4) {
	case ipProtoTCP:
		p.extract(&p.h.tcp, tcpLen)
	case ipProtoUDP:
		p.extract(&p.h.udp, udpLen)
	case ipProtoICMP:
		p.parseICMPv4()
	}
}

func (p *parser) parseIPv6() {
	if !p.extract(&p.h.ipv6, ipv6Len) {
		return
	}
	p.parseIPv6Next(ipv6NextHdr(p.b, p.h.ipv6), 0)
}

// parseIPv6Next follows a Next Header value; depth counts the extension
// headers already parsed (parse_ipv6_ext0, parse_ipv6_ext1).
func (p *parser) parseIPv6Next(next uint8, depth int) {
	switch next {
	case ipv6HopByHop, ipv6Routing, ipv6DestOpts:
		switch depth {
		case 0:
			p.parseIPv6Ext(&p.h.ipv6Ext0, &p.h.ipv6Ext0Data, 1)
		case 1:
			p.parseIPv6Ext(&p.h.ipv6Ext1, &p.h.ipv6Ext1Data, 2)
		}
		// A third extension header is not parsed.
	case ipv6Fragment:
		p.extract(&p.h.ipv6Frag, ipv6FragLen)
	case ipProtoTCP:
		p.extract(&p.h.tcp, tcpLen)
	case ipProtoUDP:
		p.extract(&p.h.udp, udpLen)
	case ipProtoICMPv6:
		p.parseICMPv6()
	}
}

func (p *parser) parseIPv6Ext(ext, data *offset, depth int) {
	if !p.extract(ext, ipv6ExtLen) {
		return
	}
	extLen := int(p.b[*ext+1])
	if !p.extract(data, extLen*8) {
		return
	}
	p.m.ipv6ExtLen += uint16(extLen*8 + 8)
	p.parseIPv6Next(p.b[*ext], depth)
}

func (p *parser) parseICMPv4() {
	if !p.extract(&p.h.icmp, icmpLen) {
		return
	}
	switch p.b[p.h.icmp] {
	case 0, 8:
		p.extract(&p.h.icmpEcho, icmpEchoLen)
	case 3, 4, 5, 11, 12:
		p.parseICMPErrorV4()
	}
}

func (p *parser) parseICMPv6() {
	if !p.extract(&p.h.icmp, icmpLen) {
		return
	}
	switch p.b[p.h.icmp] {
	case 128, 129:
		p.extract(&p.h.icmpEcho, icmpEchoLen)
	case 1, 2, 3, 4:
		p.parseICMPErrorV6()
	}
}

func (p *parser) parseICMPErrorV4() {
	if !p.extract(&p.h.icmpError, icmpErrorLen) || !p.ipv4AndOptions(&p.h.innerIPv4, &p.h.innerIPv4Options) {
		return
	}
	switch ipv4Protocol(p.b, p.h.innerIPv4) {
	case ipProtoTCP, ipProtoUDP:
		p.extract(&p.h.innerL4, innerL4Len)
	}
}

func (p *parser) parseICMPErrorV6() {
	if !p.extract(&p.h.icmpError, icmpErrorLen) || !p.extract(&p.h.innerIPv6, ipv6Len) {
		return
	}
	switch ipv6NextHdr(p.b, p.h.innerIPv6) {
	case ipProtoTCP, ipProtoUDP:
		p.extract(&p.h.innerL4, innerL4Len)
	}
}
