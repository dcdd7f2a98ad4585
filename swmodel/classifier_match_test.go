// SPDX-License-Identifier: Apache-2.0

package swmodel

import (
	"math/rand/v2"
	"testing"
)

// matches, which folds vlan_id, ip_version and ip_proto into one word,
// agrees with a field-by-field ternary match, over random rules and keys
// that share many bits (so that both outcomes occur).
func TestClassifierMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pick16 := func() uint16 { return []uint16{0, 0x0fff, 0xffff, uint16(r.Uint32())}[r.IntN(4)] }
	pick8 := func() uint8 { return []uint8{0, 4, 6, 0xff, uint8(r.Uint32())}[r.IntN(5)] }
	pick64 := func() uint64 { return []uint64{0, ^uint64(0), 0xffffffff, r.Uint64()}[r.IntN(4)] }
	field := func(v, k uint64) bool { return v&k == v } // whether v fits under mask k
	hits, misses := 0, 0
	for range 200000 {
		var rule classifierRule
		rule.vlanMask, rule.verMask, rule.protoMask = pick16(), pick8(), pick8()
		rule.srcMask, rule.dstMask = addr128{pick64(), pick64()}, addr128{pick64(), pick64()}
		var m localMetadata
		m.vlanID, m.ipVersion, m.ipProto = pick16(), pick8(), pick8()
		m.ipSrc, m.ipDst = addr128{pick64(), pick64()}, addr128{pick64(), pick64()}
		// Values are the key's masked fields, then one field spoiled at random.
		rule.vlanValue, rule.verValue, rule.protoValue = m.vlanID&rule.vlanMask, m.ipVersion&rule.verMask, m.ipProto&rule.protoMask
		rule.srcValue = addr128{m.ipSrc.hi & rule.srcMask.hi, m.ipSrc.lo & rule.srcMask.lo}
		rule.dstValue = addr128{m.ipDst.hi & rule.dstMask.hi, m.ipDst.lo & rule.dstMask.lo}
		switch r.IntN(8) {
		case 0:
			rule.vlanValue ^= 1 << r.IntN(16)
		case 1:
			rule.verValue ^= 1 << r.IntN(8)
		case 2:
			rule.protoValue ^= 1 << r.IntN(8)
		case 3:
			rule.srcValue.lo ^= 1 << r.IntN(64)
		case 4:
			rule.dstValue.hi ^= 1 << r.IntN(64)
		}
		if !field(uint64(rule.vlanValue), uint64(rule.vlanMask)) || !field(uint64(rule.verValue), uint64(rule.verMask)) ||
			!field(uint64(rule.protoValue), uint64(rule.protoMask)) || !field(rule.srcValue.lo, rule.srcMask.lo) ||
			!field(rule.dstValue.hi, rule.dstMask.hi) {
			continue // a value outside its mask: P4Runtime refuses such an entry
		}
		rule.smallValue = smallKey(rule.vlanValue, rule.verValue, rule.protoValue)
		rule.smallMask = smallKey(rule.vlanMask, rule.verMask, rule.protoMask)
		want := m.vlanID&rule.vlanMask == rule.vlanValue && m.ipVersion&rule.verMask == rule.verValue &&
			m.ipProto&rule.protoMask == rule.protoValue &&
			m.ipSrc.hi&rule.srcMask.hi == rule.srcValue.hi && m.ipSrc.lo&rule.srcMask.lo == rule.srcValue.lo &&
			m.ipDst.hi&rule.dstMask.hi == rule.dstValue.hi && m.ipDst.lo&rule.dstMask.lo == rule.dstValue.lo
		if got := rule.matches(smallKey(m.vlanID, m.ipVersion, m.ipProto), m.ipSrc, m.ipDst); got != want {
			t.Fatalf("rule %+v, key %+v: matches = %v, want %v", rule, m, got, want)
		}
		if want {
			hits++
		} else {
			misses++
		}
	}
	if hits < 1000 || misses < 1000 {
		t.Errorf("%d hits and %d misses: the test exercised too little", hits, misses)
	}
}
