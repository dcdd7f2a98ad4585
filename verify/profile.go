// SPDX-License-Identifier: Apache-2.0

package verify

import (
	"errors"
	"math/bits"
	"net"
	"net/netip"
	"slices"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swmodel"
	"github.com/symdist/symdist/vectors"
)

// Addresses random traffic uses where a rule leaves them open.
var (
	poolV4 = netip.MustParsePrefix("10.0.0.0/8")
	poolV6 = netip.MustParsePrefix("2001:db8::/64")
)

// unclassifiedVLAN is a VLAN random traffic also tags with, unless a rule
// classifies it.
const unclassifiedVLAN = 4000

// Profile derives the random traffic for a switch from the state it
// holds: requests on its first edge port cabled here, replies on its last,
// TM traffic from its TM ports cabled here, flows between the addresses
// each classifier rule matches (plus unclassified flows of both IP
// versions), and the VLANs the rules name.
func Profile(s *Snapshot, cabled map[uint16]bool) (vectors.Profile, error) {
	ids, err := p4info.MustLoad().Resolve()
	if err != nil {
		return vectors.Profile{}, err
	}
	var p vectors.Profile
	var edges []uint16
	roleOf := map[uint16]swmodel.PortRole{}
	for _, e := range s.Entities {
		te := e.GetTableEntry()
		switch te.GetTableId() {
		case ids.PortRole.Table:
			port := uint16(exactOf(te, ids.PortRole.IngressPort))
			role := swmodel.PortRole(uintOf(te.GetAction().GetAction().GetParams()[0].GetValue()))
			roleOf[port] = role
			if !cabled[port] {
				continue
			}
			switch role {
			case swmodel.RoleEdge:
				edges = append(edges, port)
			case swmodel.RoleTM:
				p.TMPorts = append(p.TMPorts, port)
			}
		case ids.GroupClassifier.Table:
			p.Spaces = append(p.Spaces, ruleSpaces(ids, te.GetMatch())...)
			for _, m := range te.GetMatch() {
				if m.GetFieldId() == ids.GroupClassifier.VLANID {
					p.VLANs = append(p.VLANs, uint16(uintOf(m.GetTernary().GetValue())))
				}
			}
		}
	}
	if len(edges) == 0 {
		return p, errors.New("no edge port of the switch is cabled here (--port): random traffic enters on edge ports")
	}
	slices.Sort(edges)
	slices.Sort(p.TMPorts)
	p.ClientPort, p.ServerPort = edges[0], edges[len(edges)-1]
	p.Spaces = append(p.Spaces, vectors.Space{Clients: poolV4, Servers: poolV4}, vectors.Space{Clients: poolV6, Servers: poolV6})
	if !slices.Contains(p.VLANs, unclassifiedVLAN) {
		p.VLANs = append(p.VLANs, unclassifiedVLAN)
	}
	// TM traffic goes to a host on an edge port, when one is known.
	for _, e := range s.Entities {
		te := e.GetTableEntry()
		if te.GetTableId() == ids.L2Forward.Table && te.GetAction().GetAction().GetActionId() == ids.L2Forward.Forward {
			port := uint16(uintOf(te.GetAction().GetAction().GetParams()[0].GetValue()))
			if roleOf[port] == swmodel.RoleEdge {
				p.BridgeMAC = net.HardwareAddr(padTo(te.GetMatch()[0].GetExact().GetValue(), 6))
				break
			}
		}
	}
	return p, nil
}

// ruleSpaces are the address pairs a classifier rule matches: its source
// and destination prefixes (or the pool of the IP version where it leaves
// one open), for each IP version it allows.
func ruleSpaces(ids *p4info.IDs, match []*p4v1.FieldMatch) []vectors.Space {
	f := ids.GroupClassifier
	var version uint64
	var src, dst *p4v1.FieldMatch
	for _, m := range match {
		switch m.GetFieldId() {
		case f.IPVersion:
			version = uintOf(m.GetTernary().GetValue())
		case f.IPSrc:
			src = m
		case f.IPDst:
			dst = m
		}
	}
	var out []vectors.Space
	for _, v := range []uint64{4, 6} {
		if version != 0 && version != v {
			continue
		}
		pool := poolV4
		if v == 6 {
			pool = poolV6
		}
		s, okS := prefixOf(src, v, pool)
		d, okD := prefixOf(dst, v, pool)
		if okS && okD {
			out = append(out, vectors.Space{Clients: s, Servers: d})
		}
	}
	return out
}

// prefixOf is the prefix a ternary ip_src/ip_dst match gives for IP
// version v (an IPv4 address in the low 32 bits); pool when the field is
// open; ok=false when the match cannot hold an address of version v.
func prefixOf(m *p4v1.FieldMatch, v uint64, pool netip.Prefix) (netip.Prefix, bool) {
	if m == nil {
		return pool, true
	}
	value, mask := padTo(m.GetTernary().GetValue(), 16), padTo(m.GetTernary().GetMask(), 16)
	var a netip.Addr
	ones := 0
	if v == 4 {
		if slices.ContainsFunc(mask[:12], func(b byte) bool { return b != 0 }) {
			return netip.Prefix{}, false
		}
		a = netip.AddrFrom4([4]byte(value[12:]))
		for _, b := range mask[12:] {
			ones += bits.OnesCount8(b)
		}
	} else {
		a = netip.AddrFrom16([16]byte(value))
		for _, b := range mask {
			ones += bits.OnesCount8(b)
		}
	}
	p, err := a.Prefix(ones)
	if err != nil || p.Addr() != a {
		// Not a prefix mask: the exact address matches.
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return p, true
}
