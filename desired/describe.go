// SPDX-License-Identifier: Apache-2.0

package desired

//lint:file-ignore SA1019 P4Runtime 1.4 deprecates Replica.egress_port, but a switch must still serve (and a controller read) the clients that use it

import (
	"encoding/hex"
	"fmt"
	"net"
	"strings"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
)

// shortName is the last part of a P4 name: "SymdistIngress.port_role.port_role" -> "port_role".
func shortName(n string) string { return n[strings.LastIndex(n, ".")+1:] }

// Describe renders an entity with the P4Info's names, for people:
// port_role{ingress_port=0x3} -> set_port_role(role=0x2).
func Describe(schema *p4info.Schema, e *p4v1.Entity) string {
	var b strings.Builder
	switch {
	case e.GetTableEntry() != nil:
		te := e.GetTableEntry()
		t := schema.Tables[te.GetTableId()]
		fields := map[uint32]string{}
		for _, f := range t.GetMatchFields() {
			fields[f.GetId()] = f.GetName()
		}
		fmt.Fprintf(&b, "%s{", shortName(t.GetPreamble().GetName()))
		for i, m := range te.GetMatch() {
			if i > 0 {
				b.WriteString(", ")
			}
			if x := m.GetTernary(); x != nil {
				fmt.Fprintf(&b, "%s=0x%x&&&0x%x", fields[m.GetFieldId()], x.GetValue(), x.GetMask())
			} else {
				fmt.Fprintf(&b, "%s=0x%x", fields[m.GetFieldId()], m.GetExact().GetValue())
			}
		}
		if te.GetPriority() != 0 {
			fmt.Fprintf(&b, ", priority=%d", te.GetPriority())
		}
		b.WriteString("} -> ")
		if id := te.GetAction().GetActionProfileMemberId(); id != 0 {
			fmt.Fprintf(&b, "member %d", id)
		} else {
			b.WriteString(describeAction(schema, te.GetAction().GetAction()))
		}
	case e.GetActionProfileMember() != nil:
		m := e.GetActionProfileMember()
		fmt.Fprintf(&b, "member %d -> %s", m.GetMemberId(), describeAction(schema, m.GetAction()))
	case e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry() != nil:
		g := e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry()
		var ports []string
		for _, r := range g.GetReplicas() {
			ports = append(ports, fmt.Sprint(r.GetEgressPort()))
		}
		fmt.Fprintf(&b, "multicast group %d -> ports %s", g.GetMulticastGroupId(), strings.Join(ports, ","))
	default:
		b.WriteString(entries.Key(e))
	}
	return b.String()
}

func describeAction(schema *p4info.Schema, a *p4v1.Action) string {
	info := schema.Actions[a.GetActionId()]
	names := map[uint32]string{}
	for _, p := range info.GetParams() {
		names[p.GetId()] = p.GetName()
	}
	var ps []string
	for _, p := range a.GetParams() {
		v := "0x" + hex.EncodeToString(p.GetValue())
		if names[p.GetParamId()] == p4info.ParamSendToTMTMMAC {
			v = padMAC(p.GetValue()).String()
		}
		ps = append(ps, names[p.GetParamId()]+"="+v)
	}
	return fmt.Sprintf("%s(%s)", shortName(info.GetPreamble().GetName()), strings.Join(ps, ", "))
}

// TableName is the short name of the table an entity belongs to, for
// people: "bucket_table", "tm_members" (action-profile members) or
// "multicast groups".
func TableName(schema *p4info.Schema, e *p4v1.Entity) string {
	switch {
	case e.GetTableEntry() != nil:
		if t := schema.Tables[e.GetTableEntry().GetTableId()]; t != nil {
			return shortName(t.GetPreamble().GetName())
		}
		return fmt.Sprintf("table %d", e.GetTableEntry().GetTableId())
	case e.GetActionProfileMember() != nil:
		if p := schema.ActionProfiles[e.GetActionProfileMember().GetActionProfileId()]; p != nil {
			return shortName(p.GetPreamble().GetName())
		}
		return "action profile members"
	case e.GetPacketReplicationEngineEntry() != nil:
		return "multicast groups"
	}
	return "other"
}

// padMAC left-pads a canonical bytestring to a 6-byte MAC.
func padMAC(b []byte) net.HardwareAddr {
	if len(b) >= 6 {
		return net.HardwareAddr(b[len(b)-6:])
	}
	return net.HardwareAddr(append(make([]byte, 6-len(b)), b...))
}
