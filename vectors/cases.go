// SPDX-License-Identifier: Apache-2.0

package vectors

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/symdist/symdist/contract"
)

// Outcome is what the contract requires of a packet, stated independently
// of the pipeline: Expect turns it into egress ports and bytes using only
// the contract's hash and the fixture.
type Outcome struct {
	Kind   Kind
	Group  uint16
	Key    contract.Key // KindHashed
	Reason string       // the steer reason, or the drop cause
	TM     int          // KindDirect: index into TMs
}

// Kind is how a packet leaves.
type Kind int

// The kinds of outcome.
const (
	KindHashed  Kind = iota + 1 // to the TM of the key's bucket (or the default TM)
	KindDefault                 // to the group's default TM, no key
	KindDirect                  // to a TM's own address
	KindBridge                  // by destination MAC, or flooded
	KindDrop
)

// Case is one test vector: a frame received on Port and what must happen.
type Case struct {
	Name  string // also says how the packet was built
	Port  uint16
	Frame []byte
	Want  Outcome
}

func hashed(group uint16, addr netip.Addr, port uint16, reason string) Outcome {
	return Outcome{Kind: KindHashed, Group: group, Key: contract.Key{Addr: addr, Port: port}, Reason: reason}
}

func toDefault(group uint16, reason string) Outcome {
	return Outcome{Kind: KindDefault, Group: group, Reason: reason}
}

var (
	bridge = Outcome{Kind: KindBridge}
	tcp    = layers.IPProtocolTCP
	udp    = layers.IPProtocolUDP
)

func drop(cause string) Outcome { return Outcome{Kind: KindDrop, Reason: cause} }

// mutate returns a copy of frame changed by f.
func mutate(frame []byte, f func(b []byte) []byte) []byte {
	return f(append([]byte(nil), frame...))
}

// vlanTag inserts an 802.1Q tag (TPID tpid) after the MAC addresses.
func vlanTag(frame []byte, tpid uint16, vid uint16) []byte {
	out := append([]byte(nil), frame[:12]...)
	out = binary.BigEndian.AppendUint16(out, tpid)
	out = binary.BigEndian.AppendUint16(out, vid)
	return append(out, frame[12:]...)
}

// Cases returns every vector: each row of the contract's key table and each
// data-plane case of the reliability checklist, for IPv4 and IPv6.
func Cases() []Case {
	var cs []Case
	add := func(name string, port uint16, frame []byte, want Outcome) {
		cs = append(cs, Case{Name: name, Port: port, Frame: frame, Want: want})
	}
	for _, f := range []struct {
		v                            string
		client, vip, router, outside netip.Addr
		tmAddr                       netip.Addr
		tmIndex                      int
	}{
		{"ipv4", ClientV4, VIPV4, RouterV4, OutsideV4, TMAddrV4, 0},
		{"ipv6", ClientV6, VIPV6, RouterV6, OutsideV6, TMAddrV6, 1},
	} {
		v, c, vip := f.v+" ", f.client, f.vip
		request := Flow(tcp, c, 51234, vip, 80, []byte("GET / HTTP/1.1\r\n\r\n"))

		// Contract section 2, row by row.
		add(v+"tcp request, source port greater: key is the source", PortClient, request, hashed(GroupMain, c, 51234, "hashed"))
		add(v+"tcp reply from the server side: same key", PortServer, Flow(tcp, vip, 80, c, 51234, nil), hashed(GroupMain, c, 51234, "hashed"))
		add(v+"tcp, destination port greater: key is the destination", PortClient, Flow(tcp, c, 1000, vip, 8080, nil), hashed(GroupMain, vip, 8080, "hashed"))
		add(v+"udp request", PortClient, Flow(udp, c, 40000, vip, 53, []byte("query")), hashed(GroupMain, c, 40000, "hashed"))
		add(v+"udp reply", PortServer, Flow(udp, vip, 53, c, 40000, []byte("answer")), hashed(GroupMain, c, 40000, "hashed"))
		add(v+"udp ports equal: default TM", PortClient, Flow(udp, c, 123, vip, 123, nil), toDefault(GroupMain, "equal_ports"))
		add(v+"tcp ports equal: default TM", PortClient, Flow(tcp, c, 5000, vip, 5000, nil), toDefault(GroupMain, "equal_ports"))
		add(v+"tcp source port 0", PortClient, Flow(tcp, c, 0, vip, 80, nil), hashed(GroupMain, vip, 80, "hashed"))
		add(v+"tcp both ports 0: equal", PortClient, Flow(tcp, c, 0, vip, 0, nil), toDefault(GroupMain, "equal_ports"))
		add(v+"icmp echo request: key is (source, identifier)", PortClient, Echo(c, vip, 0x1234, false), hashed(GroupMain, c, 0x1234, "echo"))
		add(v+"icmp echo reply: key is (destination, identifier)", PortServer, Echo(vip, c, 0x1234, true), hashed(GroupMain, c, 0x1234, "echo"))
		add(v+"icmp error quoting a whole tcp header: key of the quoted packet", PortServer,
			ICMPError(f.router, request, 1000), hashed(GroupMain, c, 51234, "icmp_error"))
		ipLen := 20
		if !c.Is4() {
			ipLen = 40
		}
		add(v+"icmp error quoting only 8 bytes of tcp", PortServer,
			ICMPError(f.router, request, ipLen+8), hashed(GroupMain, c, 51234, "icmp_error"))
		add(v+"icmp error quoting 4 bytes of tcp: other", PortServer,
			ICMPError(f.router, request, ipLen+4), toDefault(GroupMain, "other_protocol"))
		add(v+"icmp error quoting an echo request: other", PortServer,
			ICMPError(f.router, Echo(c, vip, 7, false), 100), toDefault(GroupMain, "other_protocol"))
		add(v+"icmp error quoting equal ports: default TM", PortServer,
			ICMPError(f.router, Flow(udp, c, 53, vip, 53, nil), 100), toDefault(GroupMain, "equal_ports"))

		// Other protocols and truncated L4 headers.
		add(v+"gre: other protocol", PortClient, serialize(ethernet(SwitchMAC, etherTypeOf(c)), ipLayer(c, vip, layers.IPProtocolGRE), gopacket.Payload("0000000000000000")),
			toDefault(GroupMain, "other_protocol"))
		add(v+"sctp: other protocol", PortClient, serialize(ethernet(SwitchMAC, etherTypeOf(c)), ipLayer(c, vip, layers.IPProtocolSCTP), gopacket.Payload("000000000000")),
			toDefault(GroupMain, "other_protocol"))
		add(v+"tcp header cut short by the frame", PortClient, request[:14+ipLen+10], toDefault(GroupMain, "other_protocol"))
		add(v+"udp header cut short by the frame", PortClient, Flow(udp, c, 40000, vip, 53, nil)[:14+ipLen+6], toDefault(GroupMain, "other_protocol"))
		add(v+"echo header cut short", PortClient, Echo(c, vip, 9, false)[:14+ipLen+6], toDefault(GroupMain, "other_protocol"))
		add(v+"tcp header shorter than the IP length says, frame padded", PortClient, mutate(request[:14+ipLen+20], func(b []byte) []byte {
			setIPPayloadLen(b, 10)
			return b
		}), toDefault(GroupMain, "other_protocol"))
		add(v+"ip length larger than the frame: steered on what is there", PortClient, mutate(request, func(b []byte) []byte {
			setIPPayloadLen(b, 1400)
			return b
		}), hashed(GroupMain, c, 51234, "hashed"))

		// Groups, VLANs, addresses.
		add(v+"vlan 20: group 2", PortClient, vlanTag(request, 0x8100, 20), hashed(GroupVLAN20, c, 51234, "hashed"))
		add(v+"vlan 20 other protocol: group 2 default TM", PortClient,
			vlanTag(serialize(ethernet(SwitchMAC, etherTypeOf(c)), ipLayer(c, vip, layers.IPProtocolGRE), gopacket.Payload("00000000")), 0x8100, 20),
			toDefault(GroupVLAN20, "other_protocol"))
		add(v+"vlan 30: group without TMs is dropped", PortClient, vlanTag(request, 0x8100, 30), drop("no_tm"))
		add(v+"qinq: not parsed past the second tag, bridged", PortClient, vlanTag(vlanTag(request, 0x8100, 20), 0x88a8, 100), bridge)
		add(v+"88a8 single tag: parsed like 8100", PortClient, vlanTag(request, 0x88a8, 20), hashed(GroupVLAN20, c, 51234, "hashed"))
		add(v+"outside every group: bridged", PortClient, Flow(tcp, f.outside, 40000, f.outside.Next(), 80, nil), bridge)
		add(v+"to a TM's own address: direct", PortClient, Flow(tcp, c, 40000, f.tmAddr, 22, nil), Outcome{Kind: KindDirect, Reason: "direct", TM: f.tmIndex})
		add(v+"to a TM's own address from outside every group: direct", PortClient, Flow(tcp, f.outside, 40000, f.tmAddr, 22, nil), Outcome{Kind: KindDirect, Reason: "direct", TM: f.tmIndex})

		// Port roles.
		add(v+"from a tm port: bridged by destination MAC", PortTM1, mutate(Flow(tcp, vip, 80, c, 51234, nil), func(b []byte) []byte {
			copy(b, ClientMAC)
			return b
		}), bridge)
		add(v+"from the peer port: bridged (flooded)", PortPeer, request, bridge)
		add(v+"from a port without a role: dropped", PortNoRole, request, drop("unknown_port"))
		add(v+"to a multicast MAC: bridged", PortClient, mutate(request, func(b []byte) []byte {
			copy(b, []byte{0x33, 0x33, 0, 0, 0, 1})
			return b
		}), bridge)

		// Hop limit and size do not matter.
		add(v+"ttl 1: steered, unchanged", PortClient, mutate(request, func(b []byte) []byte {
			setTTL(b, 1)
			return b
		}), hashed(GroupMain, c, 51234, "hashed"))
		add(v+"ttl 0: steered, unchanged", PortClient, mutate(request, func(b []byte) []byte {
			setTTL(b, 0)
			return b
		}), hashed(GroupMain, c, 51234, "hashed"))
		add(v+"jumbo frame of 9000 bytes", PortClient, Flow(tcp, c, 51234, vip, 80, make([]byte, 9000-14-ipLen-20)), hashed(GroupMain, c, 51234, "hashed"))
		add(v+"truncated IP header: malformed", PortClient, request[:14+ipLen-1], drop("malformed"))
		add(v+"wrong IP version: malformed", PortClient, mutate(request, func(b []byte) []byte {
			b[14] = b[14]&0x0f | 0x50
			return b
		}), drop("malformed"))
	}

	// IPv4 only.
	req4 := Flow(tcp, ClientV4, 51234, VIPV4, 80, nil)
	frag := func(mf bool, offset uint16) []byte {
		return mutate(req4, func(b []byte) []byte {
			v := offset
			if mf {
				v |= 0x2000
			}
			binary.BigEndian.PutUint16(b[14+6:], v)
			return b
		})
	}
	add("ipv4 first fragment (MF set): default TM", PortClient, frag(true, 0), toDefault(GroupMain, "fragment"))
	add("ipv4 later fragment (offset 185): default TM", PortClient, frag(false, 185), toDefault(GroupMain, "fragment"))
	add("ipv4 last fragment (MF set, offset 1)", PortClient, frag(true, 1), toDefault(GroupMain, "fragment"))
	add("ipv4 DF set is not a fragment", PortClient, frag(false, 0x4000), hashed(GroupMain, ClientV4, 51234, "hashed"))
	add("ipv4 with 8 bytes of options", PortClient, withIPv4Options(req4, 2), hashed(GroupMain, ClientV4, 51234, "hashed"))
	add("ipv4 with 40 bytes of options (IHL 15)", PortClient, withIPv4Options(req4, 10), hashed(GroupMain, ClientV4, 51234, "hashed"))
	add("ipv4 options cut short by the frame: malformed", PortClient, withIPv4Options(req4, 10)[:14+30], drop("malformed"))
	for ihl := byte(0); ihl < 5; ihl++ {
		add("ipv4 IHL "+string('0'+ihl)+": malformed", PortClient, mutate(req4, func(b []byte) []byte {
			b[14] = 0x40 | ihl
			return b
		}), drop("malformed"))
	}
	add("ipv4 total length shorter than its header: malformed", PortClient, mutate(req4, func(b []byte) []byte {
		binary.BigEndian.PutUint16(b[16:], 19)
		return b
	}), drop("malformed"))
	add("ipv4 icmp error quoting a fragment: default TM", PortServer,
		ICMPError(RouterV4, frag(true, 0), 100), toDefault(GroupMain, "fragment"))
	add("ipv4 icmp error quoting a packet with options", PortServer,
		ICMPError(RouterV4, withIPv4Options(req4, 3), 100), hashed(GroupMain, ClientV4, 51234, "icmp_error"))
	add("ipv4 icmp time exceeded quoting udp", PortServer, mutate(ICMPError(RouterV4, Flow(udp, ClientV4, 40000, VIPV4, 53, nil), 100), func(b []byte) []byte {
		b[14+20] = 11
		return b
	}), hashed(GroupMain, ClientV4, 40000, "icmp_error"))
	add("ipv4 icmp redirect (type 5) quoting tcp", PortServer, mutate(ICMPError(RouterV4, req4, 100), func(b []byte) []byte {
		b[14+20] = 5
		return b
	}), hashed(GroupMain, ClientV4, 51234, "icmp_error"))
	add("ipv4 icmp timestamp (type 13): other", PortClient, mutate(Echo(ClientV4, VIPV4, 1, false), func(b []byte) []byte {
		b[14+20] = 13
		return b
	}), toDefault(GroupMain, "other_protocol"))

	// IPv6 only.
	req6 := Flow(tcp, ClientV6, 51234, VIPV6, 80, nil)
	ext := func(chain ...layers.IPProtocol) []byte { return WithIPv6Ext(ClientV6, 51234, VIPV6, 80, chain) }
	hbh, rt, dst, fr := layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Routing, layers.IPProtocolIPv6Destination, layers.IPProtocolIPv6Fragment
	add("ipv6 hop-by-hop then tcp", PortClient, ext(hbh), hashed(GroupMain, ClientV6, 51234, "hashed"))
	add("ipv6 hop-by-hop, destination options, then tcp", PortClient, ext(hbh, dst), hashed(GroupMain, ClientV6, 51234, "hashed"))
	add("ipv6 three extension headers: other", PortClient, ext(hbh, rt, dst), toDefault(GroupMain, "other_protocol"))
	add("ipv6 fragment header: default TM", PortClient, ext(fr), toDefault(GroupMain, "fragment"))
	add("ipv6 hop-by-hop then fragment: default TM", PortClient, ext(hbh, fr), toDefault(GroupMain, "fragment"))
	add("ipv6 extension header cut short: other", PortClient, ext(hbh, dst)[:14+40+12], toDefault(GroupMain, "other_protocol"))
	add("ipv6 payload length shorter than its extension headers: malformed", PortClient, mutate(ext(hbh, dst), func(b []byte) []byte {
		binary.BigEndian.PutUint16(b[14+4:], 10)
		return b
	}), drop("malformed"))
	add("ipv6 neighbor solicitation to a multicast MAC: bridged", PortClient, ndSolicit(), bridge)
	// Neighbour discovery and router messages (ICMPv6 133-137) are bridged by
	// destination MAC like ARP even when unicast and addressed inside a
	// steered group (contract v1.1): each TM behind a shared SNAT address
	// resolves its own neighbours. Types 132 and 138 are not ND: steered.
	na := ndMessage(layers.ICMPv6TypeNeighborAdvertisement, ClientV6, VIPV6, TMs[1].MAC)
	add("ipv6 neighbor advertisement unicast to a TM's MAC, addresses in a group: bridged to that TM", PortServer, na, bridge)
	add("ipv6 neighbor solicitation unicast (NUD probe) to the server MAC: bridged", PortClient,
		ndMessage(layers.ICMPv6TypeNeighborSolicitation, ClientV6, VIPV6, ServerMAC), bridge)
	add("ipv6 router solicitation (133) to the server MAC: bridged", PortClient,
		ndMessage(layers.ICMPv6TypeRouterSolicitation, ClientV6, VIPV6, ServerMAC), bridge)
	add("ipv6 router advertisement (134) to the client MAC: bridged", PortServer,
		ndMessage(layers.ICMPv6TypeRouterAdvertisement, VIPV6, ClientV6, ClientMAC), bridge)
	add("ipv6 redirect (137) to the client MAC: bridged", PortServer,
		ndMessage(layers.ICMPv6TypeRedirect, VIPV6, ClientV6, ClientMAC), bridge)
	add("ipv6 neighbor advertisement on vlan 20: bridged", PortServer, vlanTag(na, 0x8100, 20), bridge)
	add("ipv6 neighbor advertisement behind a hop-by-hop header: bridged", PortServer,
		ndBehindHopByHop(ndMessage(layers.ICMPv6TypeNeighborAdvertisement, ClientV6, VIPV6, TMs[1].MAC)), bridge)
	add("ipv6 icmp type 132 (not ND) to the server MAC: other", PortClient, ndMessage(132, ClientV6, VIPV6, ServerMAC), toDefault(GroupMain, "other_protocol"))
	add("ipv6 icmp type 138 (not ND) to the server MAC: other", PortClient, ndMessage(138, ClientV6, VIPV6, ServerMAC), toDefault(GroupMain, "other_protocol"))
	add("ipv6 neighbor advertisement cut to 2 icmp bytes: other", PortServer, mutate(na[:14+40+2], func(b []byte) []byte {
		setIPPayloadLen(b, 2)
		return b
	}), toDefault(GroupMain, "other_protocol"))
	add("ipv4 icmp type 136 (ND numbers mean nothing in ICMPv4): other", PortClient, mutate(Echo(ClientV4, VIPV4, 1, false), func(b []byte) []byte {
		b[14+20] = 136
		return b
	}), toDefault(GroupMain, "other_protocol"))
	add("ipv6 icmp packet too big (type 2) quoting tcp", PortServer, mutate(ICMPError(RouterV6, req6, 200), func(b []byte) []byte {
		b[14+40] = 2
		return b
	}), hashed(GroupMain, ClientV6, 51234, "icmp_error"))
	add("ipv6 icmp error quoting only 40+4 bytes: other", PortServer, ICMPError(RouterV6, req6, 44), toDefault(GroupMain, "other_protocol"))

	// Not IP.
	arp := serialize(&layers.Ethernet{SrcMAC: ClientMAC, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: ClientMAC, SourceProtAddress: ClientV4.AsSlice(),
			DstHwAddress: make([]byte, 6), DstProtAddress: VIPV4.AsSlice()})
	add("arp request: flooded, not back out of its port", PortClient, arp, bridge)
	add("arp request on vlan 20: flooded", PortClient, vlanTag(arp, 0x8100, 20), bridge)
	add("arp reply to a known MAC: forwarded", PortTM2, mutate(arp, func(b []byte) []byte {
		copy(b, ClientMAC)
		b[21] = 2
		return b
	}), bridge)
	add("unknown ethertype: flooded", PortClient, mutate(arp, func(b []byte) []byte {
		b[12], b[13] = 0x88, 0xb5
		return b
	}), bridge)
	add("unknown ethertype to the server MAC: forwarded", PortClient, mutate(arp, func(b []byte) []byte {
		copy(b, ServerMAC)
		b[12], b[13] = 0x88, 0xb5
		return b
	}), bridge)
	add("frame of only an ethernet header", PortClient, arp[:14], bridge)
	add("vlan tag cut short: bridged", PortClient, vlanTag(arp, 0x8100, 20)[:16], bridge)
	return cs
}

// setIPPayloadLen sets the IPv4 total length or IPv6 payload length so that
// the L4 part is n bytes.
func setIPPayloadLen(b []byte, n int) {
	if b[14]>>4 == 4 {
		binary.BigEndian.PutUint16(b[16:], uint16(20+n))
	} else {
		binary.BigEndian.PutUint16(b[18:], uint16(n))
	}
}

func setTTL(b []byte, ttl byte) {
	if b[14]>>4 == 4 {
		b[22] = ttl
	} else {
		b[21] = ttl
	}
}

// withIPv4Options rebuilds an IPv4 TCP frame with words*4 bytes of NOP
// options (and an End of list).
func withIPv4Options(frame []byte, words int) []byte {
	opts := make([]byte, words*4)
	for i := range opts {
		opts[i] = 1 // NOP
	}
	opts[len(opts)-1] = 0 // End of Options List
	out := append([]byte(nil), frame[:34]...)
	out = append(out, opts...)
	out = append(out, frame[34:]...)
	out[14] = 0x40 | byte(5+words)
	binary.BigEndian.PutUint16(out[16:], uint16(len(out)-14))
	return out
}

func ndSolicit() []byte {
	target := VIPV6
	snm := netip.AddrFrom16([16]byte{0xff, 0x02, 11: 1, 12: 0xff, 13: target.As16()[13], 14: target.As16()[14], 15: target.As16()[15]})
	ip := ipLayer(ClientV6, snm, layers.IPProtocolICMPv6).(*layers.IPv6)
	ip.HopLimit = 255
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0)}
	_ = icmp.SetNetworkLayerForChecksum(ip)
	eth := &layers.Ethernet{SrcMAC: ClientMAC, DstMAC: []byte{0x33, 0x33, 0xff, snm.As16()[13], snm.As16()[14], snm.As16()[15]}, EthernetType: layers.EthernetTypeIPv6}
	return serialize(eth, ip, icmp, &layers.ICMPv6NeighborSolicitation{TargetAddress: target.AsSlice()})
}

// ndMessage is an ICMPv6 message of type typ (with 20 bytes of body: a
// neighbour advertisement's flags and target) from src to dst, sent to the
// Ethernet address dstMAC.
func ndMessage(typ uint8, src, dst netip.Addr, dstMAC net.HardwareAddr) []byte {
	ip := ipLayer(src, dst, layers.IPProtocolICMPv6).(*layers.IPv6)
	ip.HopLimit = 255
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
	_ = icmp.SetNetworkLayerForChecksum(ip)
	body := append([]byte{0x60, 0, 0, 0}, dst.AsSlice()...)
	return serialize(ethernet(dstMAC, layers.EthernetTypeIPv6), ip, icmp, gopacket.Payload(body))
}

// ndBehindHopByHop inserts an 8-byte hop-by-hop header (PadN) between the
// IPv6 header and the ICMPv6 message of frame.
func ndBehindHopByHop(frame []byte) []byte {
	out := append([]byte(nil), frame[:14+40]...)
	out = append(out, byte(layers.IPProtocolICMPv6), 0, 1, 4, 0, 0, 0, 0)
	out = append(out, frame[14+40:]...)
	out[14+6] = byte(layers.IPProtocolIPv6HopByHop)
	binary.BigEndian.PutUint16(out[14+4:], uint16(len(out)-14-40))
	return out
}
