// SPDX-License-Identifier: Apache-2.0

package swmodel

// headerCheck mirrors control HeaderCheck (p4src/include/control/header_check.p4).
func headerCheck(b []byte, h *headers, m *localMetadata) {
	m.malformed = false
	m.isIP = false
	m.isND = false
	if !valid(h.ethernet) {
		m.malformed = true
		return
	}
	etherType := u16(b, h.ethernet+12)
	if valid(h.vlan) {
		etherType = u16(b, h.vlan+2)
	}
	switch etherType {
	case etherTypeIPv4:
		ok := valid(h.ipv4)
		if ok {
			ihl := ipv4IHL(b, h.ipv4)
			ok = ipv4Version(b, h.ipv4) == 4 && ihl >= 5 &&
				ipv4TotalLen(b, h.ipv4) >= uint16(ihl)<<2 &&
				(ihl == 5 || valid(h.ipv4Options))
		}
		m.malformed, m.isIP = !ok, ok
	case etherTypeIPv6:
		ok := valid(h.ipv6) && ipv6Version(b, h.ipv6) == 6 &&
			ipv6PayloadLen(b, h.ipv6) >= m.ipv6ExtLen
		m.malformed, m.isIP = !ok, ok
		if ok && valid(h.icmp) {
			t := b[h.icmp]
			m.isND = t >= icmpv6RouterSolicit && t <= icmpv6Redirect
		}
	}
}
