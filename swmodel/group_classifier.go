// SPDX-License-Identifier: Apache-2.0

package swmodel

import (
	"cmp"
	"encoding/binary"
)

// classifierRule is one entry of table group_classifier: ternary matches on
// vlan_id, ip_version, ip_src, ip_dst and ip_proto, and action set_group.
// A field the entry leaves out has an all-zero mask (don't care).
type classifierRule struct {
	priority              int32
	vlanValue, vlanMask   uint16
	verValue, verMask     uint8
	srcValue, srcMask     addr128
	dstValue, dstMask     addr128
	protoValue, protoMask uint8
	groupID               uint16

	// vlan, version and proto as one word of the classifierKey (smallKey),
	// set by classifierRuleOf.
	smallValue, smallMask uint64
}

// addr128 is a bit<128> field as two 64-bit halves, so that a ternary
// match is two AND-compares.
type addr128 struct{ hi, lo uint64 }

func addr128From(b []byte) addr128 {
	if len(b) == 4 {
		return addr128{lo: uint64(binary.BigEndian.Uint32(b))}
	}
	return addr128{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}
}

// compareRules orders rules as the table matches them: highest priority
// first; rules of equal priority by their match fields, so that the order
// does not depend on the order of writes. Two entries of the table never
// compare equal (their priority and match are the entry's key).
func compareRules(a, b classifierRule) int {
	return cmp.Or(
		cmp.Compare(b.priority, a.priority),
		cmp.Compare(a.vlanValue, b.vlanValue), cmp.Compare(a.vlanMask, b.vlanMask),
		cmp.Compare(a.verValue, b.verValue), cmp.Compare(a.verMask, b.verMask),
		compare128(a.srcValue, b.srcValue), compare128(a.srcMask, b.srcMask),
		compare128(a.dstValue, b.dstValue), compare128(a.dstMask, b.dstMask),
		cmp.Compare(a.protoValue, b.protoValue), cmp.Compare(a.protoMask, b.protoMask),
	)
}

func compare128(a, b addr128) int {
	return cmp.Or(cmp.Compare(a.hi, b.hi), cmp.Compare(a.lo, b.lo))
}

// smallKey packs the narrow fields of group_classifier's key (vlan_id,
// ip_version, ip_proto) into one word, so that they match as one.
func smallKey(vlan uint16, ver, proto uint8) uint64 {
	return uint64(vlan)<<16 | uint64(ver)<<8 | uint64(proto)
}

// matches is the ternary match of the rule on a packet's key: small (a
// smallKey), src and dst. It ORs together the differences of every field,
// so that a rule costs one branch, not one per field. The key is passed by
// value to stay in registers.
func (r *classifierRule) matches(small uint64, src, dst addr128) bool {
	return ((small&r.smallMask)^r.smallValue)|
		((src.hi&r.srcMask.hi)^r.srcValue.hi)|((src.lo&r.srcMask.lo)^r.srcValue.lo)|
		((dst.hi&r.dstMask.hi)^r.dstValue.hi)|((dst.lo&r.dstMask.lo)^r.dstValue.lo) == 0
}

// groupClassifier mirrors control GroupClassifier
// (p4src/include/control/group_classifier.p4).
func (t *tables) groupClassifier(b []byte, h *headers, m *localMetadata) {
	m.groupID = 0
	m.vlanID = 0
	if valid(h.vlan) {
		m.vlanID = u16(b, h.vlan) & 0x0fff
	}
	if valid(h.ipv4) {
		m.ipVersion = 4
		m.ipSrc = addr128From(ipv4Src(b, h.ipv4))
		m.ipDst = addr128From(ipv4Dst(b, h.ipv4))
		m.ipProto = ipv4Protocol(b, h.ipv4)
	} else {
		m.ipVersion = 6
		m.ipSrc = addr128From(ipv6Src(b, h.ipv6))
		m.ipDst = addr128From(ipv6Dst(b, h.ipv6))
		m.ipProto = ipv6NextHdr(b, h.ipv6)
		switch {
		case valid(h.ipv6Frag):
			m.ipProto = b[h.ipv6Frag]
		case valid(h.ipv6Ext1):
			m.ipProto = b[h.ipv6Ext1]
		case valid(h.ipv6Ext0):
			m.ipProto = b[h.ipv6Ext0]
		}
	}
	// Rules are kept sorted by priority, highest first, as a ternary
	// table matches; only those that can match the packet's IP version
	// are tried.
	rules := t.classifierFor[0]
	if m.ipVersion == 6 {
		rules = t.classifierFor[1]
	}
	small, src, dst := smallKey(m.vlanID, m.ipVersion, m.ipProto), m.ipSrc, m.ipDst
	for i := range rules {
		if r := &rules[i]; r.matches(small, src, dst) {
			m.groupID = r.groupID
			return
		}
	}
}

// splitClassifier makes classifierFor from classifier: the rules whose
// ip_version match admits 4, and those that admit 6. A packet that reaches
// the classifier is IPv4 or IPv6, so it needs to try only one list.
func (t *tables) splitClassifier() {
	for i, version := range [2]uint8{4, 6} {
		var rules []classifierRule
		for _, r := range t.classifier {
			if version&r.verMask == r.verValue {
				rules = append(rules, r)
			}
		}
		t.classifierFor[i] = rules
	}
}
