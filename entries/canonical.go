package entries

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/protobuf/proto"
)

// trim strips leading zero bytes, keeping at least one: P4Runtime's
// canonical bytestring.
func trim(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// Canonical returns a copy of e with every bytestring of its match and
// action in canonical form, as a switch returns it on Read. Entities that
// differ only in padding compare equal after it.
func Canonical(e *p4v1.Entity) *p4v1.Entity {
	e = proto.Clone(e).(*p4v1.Entity)
	canonAction := func(a *p4v1.Action) {
		for _, p := range a.GetParams() {
			p.Value = trim(p.Value)
		}
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
	if m := e.GetActionProfileMember(); m != nil {
		canonAction(m.GetAction())
	}
	return e
}

// Key identifies an entity for diffing: the table and match (with
// priority) of a table entry, the profile and ID of a member, the ID of a
// multicast group. e must be canonical.
func Key(e *p4v1.Entity) string {
	switch {
	case e.GetTableEntry() != nil:
		te := e.GetTableEntry()
		var b strings.Builder
		fmt.Fprintf(&b, "table/%d/%d", te.GetTableId(), te.GetPriority())
		for _, m := range te.GetMatch() {
			fmt.Fprintf(&b, "/%d:%x:%x:%x", m.GetFieldId(), m.GetExact().GetValue(), m.GetTernary().GetValue(), m.GetTernary().GetMask())
		}
		return b.String()
	case e.GetActionProfileMember() != nil:
		m := e.GetActionProfileMember()
		return fmt.Sprintf("member/%d/%d", m.GetActionProfileId(), m.GetMemberId())
	case e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry() != nil:
		return fmt.Sprintf("mcast/%d", e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry().GetMulticastGroupId())
	}
	return "other/" + e.String()
}
