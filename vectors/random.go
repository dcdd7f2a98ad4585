package vectors

import (
	"math/rand/v2"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Packet is a frame and the port it is received on.
type Packet struct {
	Port  uint16
	Frame []byte
}

// Random returns n packets of random flows, seeded: requests from the
// client edge and replies from the server edge, TCP and UDP, IPv4 and IPv6,
// mixed with echoes, ICMP errors quoting flows, fragments, VLAN-tagged
// flows, other protocols, traffic from TM ports and ARP, so that every
// path of the pipeline is taken many times.
func Random(n int, seed uint64) []Packet {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]Packet, 0, n)
	addr := func(v6 bool) netip.Addr {
		if v6 {
			var a [16]byte
			a[0], a[1], a[2], a[3] = 0x20, 0x01, 0x0d, 0xb8
			for i := 8; i < 16; i++ {
				a[i] = byte(r.IntN(256))
			}
			return netip.AddrFrom16(a)
		}
		return netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), byte(r.IntN(256)), byte(1 + r.IntN(254))})
	}
	for len(out) < n {
		v6 := r.IntN(3) == 0
		client, vip := addr(v6), addr(v6)
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
			out = append(out, Packet{PortClient, req}, Packet{PortServer, Flow(proto, vip, sp, client, cp, []byte("y"))})
		case k < 10:
			id := uint16(r.IntN(65536))
			out = append(out, Packet{PortClient, Echo(client, vip, id, false)}, Packet{PortServer, Echo(vip, client, id, true)})
		case k < 12:
			router := netip.MustParseAddr("10.0.9.1")
			if v6 {
				router = netip.MustParseAddr("2001:db8:9::1")
			}
			out = append(out, Packet{PortServer, ICMPError(router, req, 28+r.IntN(100))})
		case k < 13 && !v6:
			b := append([]byte(nil), req...)
			b[20] |= 0x20 // MF
			out = append(out, Packet{PortClient, b})
		case k < 13 && v6:
			out = append(out, Packet{PortClient, WithIPv6Ext(client, cp, vip, sp, []layers.IPProtocol{layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Fragment}[r.IntN(2):])})
		case k < 15:
			out = append(out, Packet{PortClient, vlanTag(req, 0x8100, uint16([]int{20, 30, 40}[r.IntN(3)]))})
		case k < 16:
			out = append(out, Packet{PortClient, serialize(ethernet(SwitchMAC, etherTypeOf(client)), ipLayer(client, vip, layers.IPProtocolGRE), gopacket.Payload(make([]byte, r.IntN(40))))})
		case k < 18:
			b := append([]byte(nil), req...)
			copy(b, []byte{ClientMAC[0], ClientMAC[1], ClientMAC[2], ClientMAC[3], ClientMAC[4], ClientMAC[5]})
			out = append(out, Packet{uint16(PortTM1 + r.IntN(3)), b})
		default:
			// A truncated copy: every header boundary gets hit.
			cut := 14 + r.IntN(len(req)-14)
			out = append(out, Packet{PortClient, req[:cut]})
		}
	}
	return out[:n]
}
