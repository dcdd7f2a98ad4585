// SPDX-License-Identifier: Apache-2.0

// Package vectors holds the test vectors of the symdist pipeline and the
// switch state they assume: the fixture (a small deployment written as
// P4Runtime updates), the packet cases (built with gopacket, each with the
// outcome the contract requires), the plain-text vector files in
// test/vectors/ that the Go tests, the bmv2 conformance run and PTF all read,
// and random flows for property and conformance tests.
//
// cases.go builds every case and states what the contract requires of it
// (a key, a default TM, bridging or a drop); expect.go turns that into
// egress ports and bytes using only package contract and the fixture,
// never the model, so the model is checked against something it did not
// compute. `go test ./vectors -update` (`make vectors`) rewrites the files
// in test/vectors/; a test fails when they are stale.
//
// RandomFor generates conformance traffic for any switch a Profile
// describes; Random is it for the fixture. `symdist verify traffic`
// derives a profile from a live switch's state.
package vectors

import (
	"net"
	"net/netip"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/contract"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
)

// Port numbers of the fixture switch.
const (
	PortClient  = 1 // edge: clients
	PortServer  = 2 // edge: servers
	PortTM1     = 3
	PortTM2     = 4
	PortTM3     = 5
	PortPeer    = 6
	PortNoRole  = 7 // a port the controller gave no role
	FloodGroup  = 1
	GroupMain   = 1 // 10.0.0.0/8 and 2001:db8::/32
	GroupVLAN20 = 2 // VLAN 20, half its buckets empty
	GroupVLAN30 = 3 // VLAN 30, no TM at all
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// The fixture's TMs, hosts and addresses.
var (
	TMs = []entries.TM{
		{ID: 1, Port: PortTM1, MAC: mac("02:00:00:00:01:01")},
		{ID: 2, Port: PortTM2, MAC: mac("02:00:00:00:01:02")},
		{ID: 3, Port: PortTM3, MAC: mac("02:00:00:00:01:03")},
	}
	ClientMAC   = mac("02:00:00:00:00:0c")
	ServerMAC   = mac("02:00:00:00:00:05")
	SwitchMAC   = mac("02:00:00:00:00:99")             // what clients send to; unknown to l2_forward
	TMAddrV4    = netip.MustParseAddr("10.0.1.1")      // TM 1's own address
	TMAddrV6    = netip.MustParseAddr("2001:db8:1::2") // TM 2's own address
	EdgePorts   = []uint16{PortClient, PortServer}
	FloodPorts  = []uint16{PortClient, PortServer, PortTM1, PortTM2, PortTM3, PortPeer}
	DefaultTMOf = map[uint16]int{GroupMain: 0, GroupVLAN20: 2} // index into TMs
)

// BucketOwner is the fixture's bucket table: the index into TMs of the
// owner of (group, bucket), or -1 for a bucket without an entry.
func BucketOwner(group uint16, bucket int) int {
	switch group {
	case GroupMain:
		return bucket % 3
	case GroupVLAN20:
		if bucket < contract.DefaultBuckets/2 {
			return bucket % 2
		}
	}
	return -1
}

// Classifiers are the fixture's group rules, before mirroring.
var Classifiers = []entries.Classifier{
	{Priority: 20, VLAN: 20, Group: GroupVLAN20},
	{Priority: 20, VLAN: 30, Group: GroupVLAN30},
	{Priority: 10, IPVersion: 4, Src: netip.MustParsePrefix("10.0.0.0/8"), Group: GroupMain},
	{Priority: 10, IPVersion: 6, Src: netip.MustParsePrefix("2001:db8::/32"), Group: GroupMain},
}

// memberID of TMs[i] in tm_members.
func memberID(i int) uint32 { return uint32(100 + i) }

// State returns the fixture as P4Runtime updates, in an order a switch
// accepts (members before the entries that use them).
func State(ids *p4info.IDs) []*p4v1.Update {
	b := entries.Builder{IDs: ids}
	var es []*p4v1.Entity
	for _, p := range EdgePorts {
		es = append(es, b.PortRole(p, 1))
	}
	for _, tm := range TMs {
		es = append(es, b.PortRole(tm.Port, 2))
	}
	es = append(es, b.PortRole(PortPeer, 3))
	for _, c := range Classifiers {
		es = append(es, b.GroupClassifier(c))
		if c.Src != c.Dst {
			m := c.Mirror()
			es = append(es, b.GroupClassifier(m))
		}
	}
	for i, tm := range TMs {
		es = append(es, b.Member(memberID(i), tm))
	}
	for _, g := range []uint16{GroupMain, GroupVLAN20} {
		for bucket := 0; bucket < contract.DefaultBuckets; bucket++ {
			if o := BucketOwner(g, bucket); o >= 0 {
				es = append(es, b.Bucket(g, uint16(bucket), memberID(o)))
			}
		}
		es = append(es, b.DefaultTM(g, TMs[DefaultTMOf[g]]))
	}
	es = append(es, b.TMAddress(TMAddrV4, TMs[0]), b.TMAddress(TMAddrV6, TMs[1]))
	es = append(es, b.L2Forward(ServerMAC, PortServer), b.L2Forward(ClientMAC, PortClient))
	for _, tm := range TMs {
		es = append(es, b.L2Forward(tm.MAC, tm.Port))
	}
	es = append(es, entries.MulticastGroup(FloodGroup, FloodPorts))
	return entries.Inserts(es...)
}
