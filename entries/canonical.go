// SPDX-License-Identifier: Apache-2.0

package entries

//lint:file-ignore SA1019 P4Runtime 1.4 deprecates Replica.egress_port and TableEntry.controller_metadata, but a switch must still serve (and a controller read) the clients that use them

import (
	"cmp"
	"encoding/hex"
	"slices"
	"strconv"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
)

// trim strips leading zero bytes, keeping at least one: P4Runtime's
// canonical bytestring.
func trim(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// Canonicalize puts e in the form a switch returns on Read, in place:
// canonical bytestrings, match fields sorted by ID, multicast replicas
// sorted and with numeric ports. Entities that differ only in these
// respects then have equal Key and Value.
func Canonicalize(e *p4v1.Entity) *p4v1.Entity {
	canonAction := func(a *p4v1.Action) {
		for _, p := range a.GetParams() {
			p.Value = trim(p.Value)
		}
		slices.SortFunc(a.GetParams(), func(x, y *p4v1.Action_Param) int { return cmp.Compare(x.GetParamId(), y.GetParamId()) })
	}
	if te := e.GetTableEntry(); te != nil {
		for _, m := range te.GetMatch() {
			switch x := m.GetFieldMatchType().(type) {
			case *p4v1.FieldMatch_Exact_:
				x.Exact.Value = trim(x.Exact.Value)
			case *p4v1.FieldMatch_Ternary_:
				x.Ternary.Value, x.Ternary.Mask = trim(x.Ternary.Value), trim(x.Ternary.Mask)
			}
		}
		slices.SortFunc(te.Match, func(a, b *p4v1.FieldMatch) int { return cmp.Compare(a.GetFieldId(), b.GetFieldId()) })
		canonAction(te.GetAction().GetAction())
	}
	if m := e.GetActionProfileMember(); m != nil {
		canonAction(m.GetAction())
	}
	if g := e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry(); g != nil {
		for _, r := range g.GetReplicas() {
			if b := r.GetPort(); b != nil {
				var port uint32
				for _, x := range b {
					port = port<<8 | uint32(x)
				}
				r.PortKind = &p4v1.Replica_EgressPort{EgressPort: port}
			}
		}
		slices.SortFunc(g.Replicas, func(a, b *p4v1.Replica) int {
			if c := cmp.Compare(a.GetEgressPort(), b.GetEgressPort()); c != 0 {
				return c
			}
			return cmp.Compare(a.GetInstance(), b.GetInstance())
		})
	}
	return e
}

func appendUint(b []byte, v uint64) []byte { return strconv.AppendUint(b, v, 10) }

// Key identifies an entity for diffing: the table and match (with
// priority) of a table entry, the profile and ID of a member, the ID of a
// multicast group. e must be canonical.
func Key(e *p4v1.Entity) string {
	var b []byte
	switch {
	case e.GetTableEntry() != nil:
		te := e.GetTableEntry()
		b = append(b, "t/"...)
		b = appendUint(b, uint64(te.GetTableId()))
		b = append(b, '/')
		b = appendUint(b, uint64(te.GetPriority()))
		for _, m := range te.GetMatch() {
			b = append(b, '/')
			b = appendUint(b, uint64(m.GetFieldId()))
			b = append(b, ':')
			if x := m.GetExact(); x != nil {
				b = hex.AppendEncode(b, x.GetValue())
			} else if x := m.GetTernary(); x != nil {
				b = hex.AppendEncode(b, x.GetValue())
				b = append(b, '&')
				b = hex.AppendEncode(b, x.GetMask())
			}
		}
	case e.GetActionProfileMember() != nil:
		m := e.GetActionProfileMember()
		b = append(b, "m/"...)
		b = appendUint(b, uint64(m.GetActionProfileId()))
		b = append(b, '/')
		b = appendUint(b, uint64(m.GetMemberId()))
	case e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry() != nil:
		b = append(b, "g/"...)
		b = appendUint(b, uint64(e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry().GetMulticastGroupId()))
	default:
		return "other/" + e.String()
	}
	return string(b)
}

func appendAction(b []byte, a *p4v1.Action) []byte {
	b = appendUint(b, uint64(a.GetActionId()))
	for _, p := range a.GetParams() {
		b = append(b, ',')
		b = appendUint(b, uint64(p.GetParamId()))
		b = append(b, '=')
		b = hex.AppendEncode(b, p.GetValue())
	}
	return b
}

// Value is what an entity with a given Key holds: the action (or member)
// and the controller metadata of a table entry, the action of a member,
// the replicas of a multicast group. Two canonical entities with equal Key
// and Value are the same.
func Value(e *p4v1.Entity) string {
	var b []byte
	switch {
	case e.GetTableEntry() != nil:
		a := e.GetTableEntry().GetAction()
		if id, ok := a.GetType().(*p4v1.TableAction_ActionProfileMemberId); ok {
			b = append(b, "member "...)
			b = appendUint(b, uint64(id.ActionProfileMemberId))
		} else {
			b = appendAction(b, a.GetAction())
		}
		if md := e.GetTableEntry().GetMetadata(); len(md) > 0 {
			b = append(b, " metadata "...)
			b = hex.AppendEncode(b, md)
		}
	case e.GetActionProfileMember() != nil:
		b = appendAction(b, e.GetActionProfileMember().GetAction())
	case e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry() != nil:
		for _, r := range e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry().GetReplicas() {
			b = appendUint(b, uint64(r.GetEgressPort()))
			b = append(b, '.')
			b = appendUint(b, uint64(r.GetInstance()))
			b = append(b, ',')
		}
	}
	return string(b)
}
