// SPDX-License-Identifier: Apache-2.0

package vectors

import (
	"math/rand/v2"
	"net"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Packet is a frame and the port it is received on.
type Packet struct {
	Port  uint16
	Frame []byte
}

// Profile is the switch random traffic is made for: where its clients and
// servers are cabled, which addresses its groups classify, and so on.
// FixtureProfile is the fixture's; `symdist verify traffic` derives one
// from a live switch's state.
type Profile struct {
	ClientPort uint16   // edge port where requests (and ICMP errors' quotes) come from
	ServerPort uint16   // edge port where replies and ICMP errors come from; may equal ClientPort
	TMPorts    []uint16 // ports where bridged TM traffic comes from; none: no such traffic
	// Spaces are the address pairs flows are drawn from (one picked per
	// flow), each client and server prefix of the same IP version.
	Spaces []Space
	VLANs  []uint16 // VLAN IDs tagged flows carry
	// BridgeMAC is the destination of TM-port traffic (a host the switch
	// knows); nil: the fixture's client MAC.
	BridgeMAC net.HardwareAddr
}

// Space is a pair of prefixes: flows go from a client in Clients to a
// server in Servers.
type Space struct {
	Clients, Servers netip.Prefix
}

// FixtureProfile is the fixture's switch (fixture.go): requests on port 1,
// replies on port 2, TMs on 3-5; a third of the flows IPv6; VLANs 20 and
// 30 classified, 40 not.
var FixtureProfile = Profile{
	ClientPort: PortClient,
	ServerPort: PortServer,
	TMPorts:    []uint16{PortTM1, PortTM2, PortTM3},
	Spaces: []Space{
		{netip.MustParsePrefix("2001:db8::/64"), netip.MustParsePrefix("2001:db8::/64")},
		{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")},
		{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")},
	},
	VLANs:     []uint16{20, 30, 40},
	BridgeMAC: ClientMAC,
}

// Random returns n packets of random flows for the fixture switch, seeded:
// RandomFor with FixtureProfile.
func Random(n int, seed uint64) []Packet { return RandomFor(n, seed, FixtureProfile) }

// pick returns one of xs, drawing from r only when there is a choice.
func pick[T any](r *rand.Rand, xs []T) T {
	if len(xs) == 1 {
		return xs[0]
	}
	return xs[r.IntN(len(xs))]
}

// randomIn returns a random address of prefix p: the host bits drawn, an
// IPv4 address's last byte kept off 0 and 255 when it is all host bits.
func randomIn(r *rand.Rand, p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().AsSlice()
	for i := range a {
		hostBits := min(8, max(0, (i+1)*8-p.Bits()))
		switch {
		case hostBits == 8 && len(a) == 4 && i == 3:
			a[i] = byte(1 + r.IntN(254))
		case hostBits == 8:
			a[i] = byte(r.IntN(256))
		case hostBits > 0:
			a[i] |= byte(r.IntN(256)) & (1<<hostBits - 1)
		}
	}
	addr, _ := netip.AddrFromSlice(a)
	return addr
}

// RandomFor returns n packets of random flows for the switch of profile
// p, seeded: requests from the client edge and replies from the server
// edge, TCP and UDP, mixed with echoes, ICMP errors quoting flows,
// fragments, VLAN-tagged flows, other protocols, traffic from TM ports and
// truncated frames, so that every path of the pipeline is taken many
// times. p needs at least one space.
func RandomFor(n int, seed uint64, p Profile) []Packet {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]Packet, 0, n)
	bridgeMAC := p.BridgeMAC
	if bridgeMAC == nil {
		bridgeMAC = ClientMAC
	}
	for len(out) < n {
		space := pick(r, p.Spaces)
		client, vip := randomIn(r, space.Clients), randomIn(r, space.Servers)
		v6 := client.Is6()
		proto := tcp
		if r.IntN(3) == 0 {
			proto = udp
		}
		cp, sp := uint16(1024+r.IntN(64512)), uint16([]int{80, 443, 53, 8080, 0, 65535}[r.IntN(6)])
		if r.IntN(20) == 0 {
			sp = cp // equal ports
		}
		req := Flow(proto, client, cp, vip, sp, []byte("x"))
		switch k := r.IntN(20); {
		case k < 8:
			out = append(out, Packet{p.ClientPort, req}, Packet{p.ServerPort, Flow(proto, vip, sp, client, cp, []byte("y"))})
		case k < 10:
			id := uint16(r.IntN(65536))
			out = append(out, Packet{p.ClientPort, Echo(client, vip, id, false)}, Packet{p.ServerPort, Echo(vip, client, id, true)})
		case k < 12:
			router := RouterV4
			if v6 {
				router = RouterV6
			}
			out = append(out, Packet{p.ServerPort, ICMPError(router, req, 28+r.IntN(100))})
		case k < 13 && !v6:
			b := append([]byte(nil), req...)
			b[20] |= 0x20 // MF
			out = append(out, Packet{p.ClientPort, b})
		case k < 13 && v6:
			out = append(out, Packet{p.ClientPort, WithIPv6Ext(client, cp, vip, sp, []layers.IPProtocol{layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Fragment}[r.IntN(2):])})
		case k < 15 && len(p.VLANs) > 0:
			out = append(out, Packet{p.ClientPort, vlanTag(req, 0x8100, pick(r, p.VLANs))})
		case k < 16:
			out = append(out, Packet{p.ClientPort, serialize(ethernet(SwitchMAC, etherTypeOf(client)), ipLayer(client, vip, layers.IPProtocolGRE), gopacket.Payload(make([]byte, r.IntN(40))))})
		case k < 18 && len(p.TMPorts) > 0:
			b := append([]byte(nil), req...)
			copy(b, bridgeMAC)
			out = append(out, Packet{pick(r, p.TMPorts), b})
		case k < 18:
			out = append(out, Packet{p.ClientPort, req})
		default:
			// A truncated copy: every header boundary gets hit.
			cut := 14 + r.IntN(len(req)-14)
			out = append(out, Packet{p.ClientPort, req[:cut]})
		}
	}
	return out[:n]
}
