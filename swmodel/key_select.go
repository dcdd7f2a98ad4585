// SPDX-License-Identifier: Apache-2.0

package swmodel

// keySelect mirrors control KeySelect (p4src/include/control/key_select.p4):
// the direction-independent key of contract section 2.
func keySelect(b []byte, h *headers, m *localMetadata) {
	m.hasKey = false
	m.keyIsIPv6 = false
	m.keyAddrV4 = [4]byte{}
	m.keyAddrV6 = [16]byte{}
	m.keyPort = 0
	m.reason = ReasonOther

	// P4 computes these in bit<16> and so wraps around; so does uint16.
	var l4Len uint16
	isFragment := false
	if valid(h.ipv4) {
		l4Len = ipv4TotalLen(b, h.ipv4) - uint16(ipv4IHL(b, h.ipv4))<<2
		isFragment = ipv4MoreFrags(b, h.ipv4) || ipv4FragOffset(b, h.ipv4) != 0
	} else {
		l4Len = ipv6PayloadLen(b, h.ipv6) - m.ipv6ExtLen
		isFragment = valid(h.ipv6Frag)
	}

	// The two sides of the packet (or of the quoted packet).
	havePorts := false
	var srcPort, dstPort uint16
	isIPv6 := valid(h.ipv6)
	var src, dst []byte // 4 or 16 address bytes
	if isIPv6 {
		src, dst = ipv6Src(b, h.ipv6), ipv6Dst(b, h.ipv6)
	} else {
		src, dst = ipv4Src(b, h.ipv4), ipv4Dst(b, h.ipv4)
	}
	hashedReason := ReasonHashed

	switch {
	case isFragment:
		m.reason = ReasonFragment
	case valid(h.tcp) && l4Len >= tcpLen:
		havePorts = true
		srcPort, dstPort = u16(b, h.tcp), u16(b, h.tcp+2)
	case valid(h.udp) && l4Len >= udpLen:
		havePorts = true
		srcPort, dstPort = u16(b, h.udp), u16(b, h.udp+2)
	case valid(h.icmpEcho) && l4Len >= icmpLen+icmpEchoLen:
		m.hasKey = true
		m.keyIsIPv6 = isIPv6
		m.keyPort = u16(b, h.icmpEcho)
		m.reason = ReasonEcho
		if t := b[h.icmp]; t == 8 || t == 128 {
			m.setKeyAddr(src)
		} else {
			m.setKeyAddr(dst)
		}
	case valid(h.innerL4) && valid(h.innerIPv4):
		if ipv4MoreFrags(b, h.innerIPv4) {
			m.reason = ReasonFragment
		} else if l4Len >= 16+uint16(ipv4IHL(b, h.innerIPv4))<<2 {
			havePorts = true
			srcPort, dstPort = u16(b, h.innerL4), u16(b, h.innerL4+2)
			src, dst = ipv4Src(b, h.innerIPv4), ipv4Dst(b, h.innerIPv4)
			hashedReason = ReasonICMPError
		}
	case valid(h.innerL4) && valid(h.innerIPv6):
		if l4Len >= icmpLen+icmpErrorLen+ipv6Len+innerL4Len {
			havePorts = true
			srcPort, dstPort = u16(b, h.innerL4), u16(b, h.innerL4+2)
			src, dst = ipv6Src(b, h.innerIPv6), ipv6Dst(b, h.innerIPv6)
			hashedReason = ReasonICMPError
		}
	}

	if !havePorts {
		return
	}
	if srcPort == dstPort {
		m.reason = ReasonEqualPorts
		return
	}
	m.hasKey = true
	m.keyIsIPv6 = isIPv6
	m.reason = hashedReason
	if srcPort > dstPort {
		m.setKeyAddr(src)
		m.keyPort = srcPort
	} else {
		m.setKeyAddr(dst)
		m.keyPort = dstPort
	}
}

func (m *localMetadata) setKeyAddr(a []byte) {
	if len(a) == 4 {
		m.keyAddrV4 = [4]byte(a)
	} else {
		m.keyAddrV6 = [16]byte(a)
	}
}
