// SPDX-License-Identifier: Apache-2.0

package config

import (
	"fmt"
	"net"
	"net/netip"
	"sync"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
)

// pipeline is what the checks need from the built-in pipeline: its IDs, to
// build the very entries the controller writes, and its table sizes.
type pipeline struct {
	ids   *p4info.IDs
	sizes *p4info.Sizes
}

// builtin resolves the embedded P4Info once; p4info's tests prove it
// resolves, so a failure here is a broken build.
var builtin = sync.OnceValue(func() pipeline {
	s := p4info.MustLoad()
	ids, err := s.Resolve()
	if err != nil {
		panic(err)
	}
	sizes, err := s.ResolveSizes()
	if err != nil {
		panic(err)
	}
	return pipeline{ids, sizes}
})

// Classifier is the group_classifier entry a rule of group becomes (the
// controller also writes its Mirror). The rule's prefixes must parse.
func (r Rule) Classifier(group uint16) entries.Classifier {
	src, _ := Prefix(r.Src)
	dst, _ := Prefix(r.Dst)
	return entries.Classifier{Priority: r.Priority, VLAN: r.VLAN, IPVersion: r.IPVersion, Src: src, Dst: dst, Proto: r.Proto, Group: group}
}

// entryKey is the key the controller dedups entries by: two entries with
// one key are one entry on the switch, and the controller keeps the first.
func entryKey(e *p4v1.Entity) string {
	entries.Canonicalize(e)
	return entries.Key(e)
}

// checkTables refuses what the switches cannot hold or what the controller
// would silently drop: entries past a table's P4Info size, and two config
// items that become one table entry. bucket_table is checkBuckets'.
func (c *Config) checkTables(v *validator) {
	p := builtin()
	b := entries.Builder{IDs: p.ids}
	c.checkClassifier(v, b, p.sizes.GroupClassifier)
	for i := range c.Switches {
		c.checkSwitchTables(v, b, p.sizes, i)
	}
}

func (c *Config) checkClassifier(v *validator, b entries.Builder, size int) {
	type rule struct{ group, rule int }
	owner := map[string]rule{}
	var firstOver []any
	n := 0
	for i, g := range c.Groups {
		for j, r := range g.Rules {
			if _, err := Prefix(r.Src); err != nil {
				continue // reported by check
			}
			if _, err := Prefix(r.Dst); err != nil {
				continue
			}
			cl := r.Classifier(g.ID)
			reported := false
			for _, e := range []entries.Classifier{cl, cl.Mirror()} {
				k := entryKey(b.GroupClassifier(e))
				o, taken := owner[k]
				if !taken {
					owner[k] = rule{i, j}
					if n++; n == size+1 {
						firstOver = at("groups", i, "rules", j)
					}
					continue
				}
				// Within a group a repeat is harmless (a rule written with
				// its mirror spelled out); across groups one would be lost.
				if o.group != i && !reported {
					reported = true
					v.fail(at("groups", i, "rules", j), "same match and priority as groups[%d].rules[%d] (group %s), itself or mirrored: one group_classifier entry sets one group, and the controller would keep the first and drop this one", o.group, o.rule, c.Groups[o.group].Name)
				}
			}
		}
	}
	if firstOver != nil {
		v.fail(firstOver, "group_classifier holds %d entries (P4Info size); this config needs %d (a rule takes two, itself and its mirror, unless they are equal); this is the first rule that does not fit", size, n)
	}
}

// checkSwitchTables checks the tables whose entries differ per switch.
func (c *Config) checkSwitchTables(v *validator, b entries.Builder, sizes *p4info.Sizes, i int) {
	sw := &c.Switches[i]
	if len(sw.Ports) > sizes.PortRole {
		v.fail(at("switches", i, "ports"), "%d ports; port_role holds %d (P4Info size)", len(sw.Ports), sizes.PortRole)
	}
	// l2_forward: the TMs' MACs (written by the controller) and the static
	// entries, one entry per MAC.
	macOwner := map[string]string{}
	claim := func(path []any, mac, owner string) {
		m, err := net.ParseMAC(mac)
		if err != nil || len(m) != 6 {
			return // reported by check
		}
		k := entryKey(b.L2Forward(m, 0))
		if o, taken := macOwner[k]; taken {
			v.fail(path, "%s is %s; l2_forward holds one entry per MAC, so one of them would be lost", m, o)
			return
		}
		macOwner[k] = owner
	}
	members, v4, v6 := 0, 0, 0
	for ti := range c.TMs {
		tm := &c.TMs[ti]
		tp, ok := tm.Ports[sw.Name]
		if !ok {
			continue
		}
		members++
		claim(at("tms", ti, "ports", sw.Name, "mac"), tp.MAC, fmt.Sprintf("the MAC of TM %s on switch %s", tm.Name, sw.Name))
		for _, a := range tm.Addresses {
			if addr, err := netip.ParseAddr(a); err == nil && addr.Is4() {
				v4++
			} else if err == nil {
				v6++
			}
		}
	}
	for j, e := range sw.L2 {
		claim(at("switches", i, "l2", j, "mac"), e.MAC, fmt.Sprintf("already switches[%d].l2[%d]", i, j))
	}
	if len(macOwner) > sizes.L2Forward {
		v.fail(at("switches", i, "l2"), "switch %s needs %d l2_forward entries (static and TM MACs); it holds %d (P4Info size)", sw.Name, len(macOwner), sizes.L2Forward)
	}
	for _, t := range []struct {
		table     string
		need, max int
	}{
		{"tm_members (one member per TM)", members, sizes.TMMembers},
		{"tm_address_v4 (the TMs' IPv4 addresses)", v4, sizes.TMAddressV4},
		{"tm_address_v6 (the TMs' IPv6 addresses)", v6, sizes.TMAddressV6},
	} {
		if t.need > t.max {
			v.fail(at("tms"), "switch %s needs %d entries in %s; it holds %d (P4Info size)", sw.Name, t.need, t.table, t.max)
		}
	}
}
