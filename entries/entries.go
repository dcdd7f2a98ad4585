// SPDX-License-Identifier: Apache-2.0

// Package entries builds the P4Runtime entities of the symdist pipeline
// from typed values: one function per table, action-profile member and
// multicast group. The controller, the test vectors and the software model's
// tests all write state through these, so one write path serves bmv2, the
// model and the tests.
//
// Canonicalize, Key and Value compare what a switch holds with what it
// should hold; Wildcards is the one list of reads that returns all of it.
package entries

//lint:file-ignore SA1019 P4Runtime 1.4 deprecates Replica.egress_port and TableEntry.controller_metadata, but a switch must still serve (and a controller read) the clients that use them

import (
	"encoding/binary"
	"net"
	"net/netip"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/p4info"
)

// Builder makes entities with the IDs of one P4Info, and writes ports in
// the format of that P4Info's port fields.
type Builder struct {
	IDs *p4info.IDs
	// Ports is how the P4Info types its port fields (Schema.ResolvePorts):
	// a port is written in Ports.Bytes() bytes, 2 for the bmv2 build's 9
	// bits, 4 for the Tofino build's translated 32. The zero value is the
	// built-in P4Info's, p4info.BuiltinPorts.
	Ports p4info.Ports
}

// port encodes a port number as the P4Info's port fields take it.
func (b Builder) port(p uint16) []byte {
	n := b.Ports.Bytes()
	if b.Ports.Bits == 0 {
		n = p4info.BuiltinPorts.Bytes()
	}
	return Bytes(uint64(p), n)
}

// TM is what send_to_tm needs to reach a TM on one switch.
type TM struct {
	ID   uint16           // tm_counter index
	Port uint16           // the TM's port on this switch
	MAC  net.HardwareAddr // the TM's MAC on that port
}

// Bytes encodes v in n bytes, network order (P4Runtime accepts the padded
// form; the switch keeps the canonical one).
func Bytes(v uint64, n int) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b[8-n:]
}

func exact(id uint32, v []byte) *p4v1.FieldMatch {
	return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Exact_{Exact: &p4v1.FieldMatch_Exact{Value: v}}}
}

func ternary(id uint32, v, mask []byte) *p4v1.FieldMatch {
	return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Ternary_{Ternary: &p4v1.FieldMatch_Ternary{Value: v, Mask: mask}}}
}

func param(id uint32, v []byte) *p4v1.Action_Param {
	return &p4v1.Action_Param{ParamId: id, Value: v}
}

func tableEntity(e *p4v1.TableEntry) *p4v1.Entity {
	return &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: e}}
}

func direct(a *p4v1.Action) *p4v1.TableAction {
	return &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: a}}
}

// Update wraps an entity in an update of type t.
func Update(t p4v1.Update_Type, e *p4v1.Entity) *p4v1.Update {
	return &p4v1.Update{Type: t, Entity: e}
}

// Inserts wraps entities in INSERT updates.
func Inserts(es ...*p4v1.Entity) []*p4v1.Update {
	us := make([]*p4v1.Update, len(es))
	for i, e := range es {
		us[i] = Update(p4v1.Update_INSERT, e)
	}
	return us
}

// InsertsInOrder wraps entities in INSERT updates in an order a switch
// accepts: members and multicast groups before the table entries that use
// them.
func InsertsInOrder(es []*p4v1.Entity) []*p4v1.Update {
	var first, rest []*p4v1.Entity
	for _, e := range es {
		if e.GetTableEntry() == nil {
			first = append(first, e)
		} else {
			rest = append(rest, e)
		}
	}
	return Inserts(append(first, rest...)...)
}

// SendToTM is action send_to_tm for tm.
func (b Builder) SendToTM(tm TM) *p4v1.Action {
	ids := b.IDs.SendToTM
	return &p4v1.Action{ActionId: ids.Action, Params: []*p4v1.Action_Param{
		param(ids.TMID, Bytes(uint64(tm.ID), 2)),
		param(ids.Port, b.port(tm.Port)),
		param(ids.TMMAC, []byte(tm.MAC)),
	}}
}

// PortRole is a port_role entry.
func (b Builder) PortRole(port uint16, role uint8) *p4v1.Entity {
	ids := b.IDs.PortRole
	return tableEntity(&p4v1.TableEntry{
		TableId: ids.Table,
		Match:   []*p4v1.FieldMatch{exact(ids.IngressPort, b.port(port))},
		Action: direct(&p4v1.Action{ActionId: ids.SetPortRole, Params: []*p4v1.Action_Param{
			param(ids.Role, []byte{role}),
		}}),
	})
}

// Classifier is one rule of group_classifier. A zero field (invalid
// prefix, VLAN or protocol 0 with Any) is left out: don't care.
type Classifier struct {
	Priority  int32
	VLAN      uint16 // 0: any
	IPVersion uint8  // 0: any
	Src, Dst  netip.Prefix
	Proto     uint8 // 0: any
	Group     uint16
}

// addr128 encodes a prefix as the pipeline's 128-bit ip_src/ip_dst: IPv4
// in the low 32 bits.
func addr128(p netip.Prefix) (value, mask []byte) {
	value, mask = make([]byte, 16), make([]byte, 16)
	a := p.Masked().Addr()
	bits, off := p.Bits(), 0
	if a.Is4() {
		off = 12
		v := a.As4()
		copy(value[12:], v[:])
	} else {
		v := a.As16()
		copy(value, v[:])
	}
	for i := 0; i < bits; i++ {
		mask[off+i/8] |= 0x80 >> (i % 8)
	}
	return value, mask
}

// Mirror returns the rule with source and destination swapped, which the
// controller writes beside every rule so that replies land in the same
// group.
func (c Classifier) Mirror() Classifier {
	c.Src, c.Dst = c.Dst, c.Src
	return c
}

// GroupClassifier is a group_classifier entry.
func (b Builder) GroupClassifier(c Classifier) *p4v1.Entity {
	ids := b.IDs.GroupClassifier
	var match []*p4v1.FieldMatch
	if c.VLAN != 0 {
		match = append(match, ternary(ids.VLANID, Bytes(uint64(c.VLAN), 2), []byte{0x0f, 0xff}))
	}
	if c.IPVersion != 0 {
		match = append(match, ternary(ids.IPVersion, []byte{c.IPVersion}, []byte{0x0f}))
	}
	if c.Src.IsValid() && c.Src.Bits() > 0 {
		v, m := addr128(c.Src)
		match = append(match, ternary(ids.IPSrc, v, m))
	}
	if c.Dst.IsValid() && c.Dst.Bits() > 0 {
		v, m := addr128(c.Dst)
		match = append(match, ternary(ids.IPDst, v, m))
	}
	if c.Proto != 0 {
		match = append(match, ternary(ids.IPProto, []byte{c.Proto}, []byte{0xff}))
	}
	return tableEntity(&p4v1.TableEntry{
		TableId:  ids.Table,
		Match:    match,
		Priority: c.Priority,
		Action: direct(&p4v1.Action{ActionId: ids.SetGroup, Params: []*p4v1.Action_Param{
			param(ids.GroupID, Bytes(uint64(c.Group), 2)),
		}}),
	})
}

// TMAddress is a tm_address_v4 or tm_address_v6 entry: the TM's own
// address reaches it directly.
func (b Builder) TMAddress(addr netip.Addr, tm TM) *p4v1.Entity {
	table, field := b.IDs.TMAddressV6.Table, b.IDs.TMAddressV6.DstAddr
	value := addr.AsSlice()
	if addr.Is4() {
		table, field = b.IDs.TMAddressV4.Table, b.IDs.TMAddressV4.DstAddr
	}
	return tableEntity(&p4v1.TableEntry{
		TableId: table,
		Match:   []*p4v1.FieldMatch{exact(field, value)},
		Action:  direct(b.SendToTM(tm)),
	})
}

// Member is the tm_members action-profile member for tm.
func (b Builder) Member(memberID uint32, tm TM) *p4v1.Entity {
	return &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileMember{ActionProfileMember: &p4v1.ActionProfileMember{
		ActionProfileId: b.IDs.TMMembers,
		MemberId:        memberID,
		Action:          b.SendToTM(tm),
	}}}
}

// Bucket is a bucket_table entry pointing at a member.
func (b Builder) Bucket(group, bucket uint16, memberID uint32) *p4v1.Entity {
	ids := b.IDs.BucketTable
	return tableEntity(&p4v1.TableEntry{
		TableId: ids.Table,
		Match: []*p4v1.FieldMatch{
			exact(ids.GroupID, Bytes(uint64(group), 2)),
			exact(ids.Bucket, Bytes(uint64(bucket), 2)),
		},
		Action: &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileMemberId{ActionProfileMemberId: memberID}},
	})
}

// DefaultTM is a default_tm entry: where a group's packets without a key go.
func (b Builder) DefaultTM(group uint16, tm TM) *p4v1.Entity {
	ids := b.IDs.DefaultTM
	return tableEntity(&p4v1.TableEntry{
		TableId: ids.Table,
		Match:   []*p4v1.FieldMatch{exact(ids.GroupID, Bytes(uint64(group), 2))},
		Action:  direct(b.SendToTM(tm)),
	})
}

// BucketMask is a bucket_mask entry: group's bucket count B, as the mask
// B - 1 (B a power of two).
func (b Builder) BucketMask(group uint16, buckets int) *p4v1.Entity {
	ids := b.IDs.BucketMask
	return tableEntity(&p4v1.TableEntry{
		TableId: ids.Table,
		Match:   []*p4v1.FieldMatch{exact(ids.GroupID, Bytes(uint64(group), 2))},
		Action: direct(&p4v1.Action{ActionId: ids.SetBucketMask, Params: []*p4v1.Action_Param{
			param(ids.BucketMask, Bytes(uint64(buckets-1), 2))}}),
	})
}

// L2Forward is an l2_forward entry.
func (b Builder) L2Forward(mac net.HardwareAddr, port uint16) *p4v1.Entity {
	ids := b.IDs.L2Forward
	return tableEntity(&p4v1.TableEntry{
		TableId: ids.Table,
		Match:   []*p4v1.FieldMatch{exact(ids.DstAddr, []byte(mac))},
		Action: direct(&p4v1.Action{ActionId: ids.Forward, Params: []*p4v1.Action_Param{
			param(ids.ForwardPort, b.port(port)),
		}}),
	})
}

// MulticastGroup is a multicast group with one replica per port.
func MulticastGroup(id uint32, ports []uint16) *p4v1.Entity {
	g := &p4v1.MulticastGroupEntry{MulticastGroupId: id}
	for _, p := range ports {
		g.Replicas = append(g.Replicas, &p4v1.Replica{PortKind: &p4v1.Replica_EgressPort{EgressPort: uint32(p)}, Instance: 1})
	}
	return &p4v1.Entity{Entity: &p4v1.Entity_PacketReplicationEngineEntry{PacketReplicationEngineEntry: &p4v1.PacketReplicationEngineEntry{
		Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: g},
	}}}
}

// Wildcards are the reads that return every entity symdist writes: all
// table entries, action profile members and multicast groups. The
// controller reads a switch's state with them, and so does verify.
func Wildcards() []*p4v1.Entity {
	return []*p4v1.Entity{
		{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{}}},
		{Entity: &p4v1.Entity_ActionProfileMember{ActionProfileMember: &p4v1.ActionProfileMember{}}},
		{Entity: &p4v1.Entity_PacketReplicationEngineEntry{PacketReplicationEngineEntry: &p4v1.PacketReplicationEngineEntry{
			Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: &p4v1.MulticastGroupEntry{}}}}},
	}
}
