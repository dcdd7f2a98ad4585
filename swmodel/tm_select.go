// SPDX-License-Identifier: Apache-2.0

package swmodel

import (
	"sync/atomic"

	"github.com/symdist/symdist/contract"
)

// sendToTM holds the parameters of action send_to_tm: the TM's id (its
// tm_counter index), its port on this switch and its MAC.
type sendToTM struct {
	tmID uint16
	port uint16
	mac  [6]byte
}

// member is an action-profile member of tm_members. bucket_table entries
// point at members, so a MODIFY of a member (a new action stored) is seen
// by all of them at once.
type member struct {
	action atomic.Pointer[sendToTM]
	id     uint32 // its member ID, for Read of bucket_table
	refs   int    // bucket_table entries using it; the writer's alone
}

func newMember(id uint32, a *sendToTM) *member {
	m := &member{id: id}
	m.action.Store(a)
	return m
}

// tmSelect mirrors control TmSelect (p4src/include/control/tm_select.p4).
func (t *tables) tmSelect(b []byte, h *headers, m *localMetadata, sm *standardMetadata) {
	m.steered = false
	m.hash = 0
	m.bucket = 0
	var a *sendToTM
	if valid(h.ipv4) {
		if dst := ipv4Dst(b, h.ipv4); t.mayBeTM(dst[2:]) {
			a = t.tmAddressV4[[4]byte(dst)]
		}
	} else if dst := ipv6Dst(b, h.ipv6); t.mayBeTM(dst[14:]) {
		a = t.tmAddressV6[[16]byte(dst)]
	}
	if a != nil {
		applySendToTM(a, m, sm)
		m.reason = ReasonDirect
	} else if m.groupID != 0 {
		if m.hasKey {
			if m.keyIsIPv6 {
				m.hash = contract.HashIPv6Key(&m.keyAddrV6, m.keyPort)
			} else {
				m.hash = contract.HashIPv4Key(&m.keyAddrV4, m.keyPort)
			}
			// bucket_mask, then bucket_table.
			m.bucketMask = BucketCount - 1
			g := t.buckets.group(m.groupID)
			if g != nil && g.hasMask {
				m.bucketMask = g.mask
			}
			m.bucket = uint16(m.hash) & m.bucketMask
			if g != nil {
				if mem := g.member(m.bucket); mem != nil {
					applySendToTM(mem.action.Load(), m, sm)
				}
			}
		}
		if !m.steered {
			if d := t.defaultTM[m.groupID]; d != nil {
				applySendToTM(d, m, sm)
			}
		}
	}
	// tm_counter and steer_reason_counter count in countTMSelect.
}

// countTMSelect is the count() of tm_counter and steer_reason_counter in
// TmSelect, for a packet of n bytes. Process calls it last: its atomic adds
// must wait for the TM's entry to be read and hold back every memory access
// after them, so the packet's other work is better done before.
func countTMSelect(c *counters, m *localMetadata, n int) {
	if m.steered {
		c.countSteered(m.tmID, m.reason, n)
	}
}

// applySendToTM is action send_to_tm. The TM's MAC is written into the output
// frame by the deparser; m.tmMAC remembers it.
func applySendToTM(a *sendToTM, m *localMetadata, sm *standardMetadata) {
	sm.egressSpec = a.port
	m.tmMAC = a.mac
	m.tmID = a.tmID
	m.steered = true // counted once the reason is known (countTMSelect)
}
