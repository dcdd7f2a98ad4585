// SPDX-License-Identifier: Apache-2.0

package vectors

import (
	"net"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Addresses the cases use.
var (
	ClientV4  = netip.MustParseAddr("10.0.0.7")
	VIPV4     = netip.MustParseAddr("10.0.0.100")
	RouterV4  = netip.MustParseAddr("10.0.9.1")
	OutsideV4 = netip.MustParseAddr("192.168.50.1") // in no group
	ClientV6  = netip.MustParseAddr("2001:db8::7")
	VIPV6     = netip.MustParseAddr("2001:db8::100")
	RouterV6  = netip.MustParseAddr("2001:db8:9::1")
	OutsideV6 = netip.MustParseAddr("2001:db9::1")
)

// serialize builds a frame from gopacket layers, fixing lengths and
// checksums.
func serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		panic(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func ethernet(dst net.HardwareAddr, t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: ClientMAC, DstMAC: dst, EthernetType: t}
}

// ipLayer returns an IPv4 or IPv6 header from src to dst carrying proto.
func ipLayer(src, dst netip.Addr, proto layers.IPProtocol) gopacket.SerializableLayer {
	if src.Is4() {
		return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, Id: 1,
			SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
	}
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto,
		SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
}

func etherTypeOf(a netip.Addr) layers.EthernetType {
	if a.Is4() {
		return layers.EthernetTypeIPv4
	}
	return layers.EthernetTypeIPv6
}

func icmpProto(a netip.Addr) layers.IPProtocol {
	if a.Is4() {
		return layers.IPProtocolICMPv4
	}
	return layers.IPProtocolICMPv6
}

// l4 is a TCP or UDP header with checksums computed over ip.
func l4(proto layers.IPProtocol, ip gopacket.SerializableLayer, sp, dp uint16) gopacket.SerializableLayer {
	nl := ip.(gopacket.NetworkLayer)
	if proto == layers.IPProtocolTCP {
		t := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), SYN: true, Seq: 1000, Window: 65535}
		_ = t.SetNetworkLayerForChecksum(nl)
		return t
	}
	u := &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
	_ = u.SetNetworkLayerForChecksum(nl)
	return u
}

// Flow builds a TCP or UDP packet of a flow, from src:sp to dst:dp, as
// received from a client-side edge port.
func Flow(proto layers.IPProtocol, src netip.Addr, sp uint16, dst netip.Addr, dp uint16, payload []byte) []byte {
	ip := ipLayer(src, dst, proto)
	return serialize(ethernet(SwitchMAC, etherTypeOf(src)), ip, l4(proto, ip, sp, dp), gopacket.Payload(payload))
}

// Echo builds an ICMP or ICMPv6 echo request (or reply).
func Echo(src, dst netip.Addr, id uint16, reply bool) []byte {
	ip := ipLayer(src, dst, icmpProto(src))
	if src.Is4() {
		t := uint8(layers.ICMPv4TypeEchoRequest)
		if reply {
			t = layers.ICMPv4TypeEchoReply
		}
		return serialize(ethernet(SwitchMAC, layers.EthernetTypeIPv4), ip,
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(t, 0), Id: id, Seq: 1}, gopacket.Payload("ping"))
	}
	t := uint8(layers.ICMPv6TypeEchoRequest)
	if reply {
		t = layers.ICMPv6TypeEchoReply
	}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(t, 0)}
	_ = icmp.SetNetworkLayerForChecksum(ip.(gopacket.NetworkLayer))
	return serialize(ethernet(SwitchMAC, layers.EthernetTypeIPv6), ip, icmp,
		&layers.ICMPv6Echo{Identifier: id, SeqNumber: 1}, gopacket.Payload("ping"))
}

// ICMPError builds an ICMP destination-unreachable (ICMPv6 type 1) from
// router to the quoted packet's source, quoting the first quoteLen bytes
// of the IP packet quoted (a frame built by Flow).
func ICMPError(router netip.Addr, quoted []byte, quoteLen int) []byte {
	q := quoted[14:]
	if quoteLen < len(q) {
		q = q[:quoteLen]
	}
	var src netip.Addr
	if router.Is4() {
		src = netip.AddrFrom4([4]byte(q[12:16]))
	} else {
		src = netip.AddrFrom16([16]byte(q[8:24]))
	}
	ip := ipLayer(router, src, icmpProto(router))
	if router.Is4() {
		return serialize(ethernet(SwitchMAC, layers.EthernetTypeIPv4), ip,
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort)},
			gopacket.Payload(q))
	}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeDestinationUnreachable, layers.ICMPv6CodePortUnreachable)}
	_ = icmp.SetNetworkLayerForChecksum(ip.(gopacket.NetworkLayer))
	// The four unused bytes, then the quote.
	return serialize(ethernet(SwitchMAC, layers.EthernetTypeIPv6), ip, icmp, gopacket.Payload(append([]byte{0, 0, 0, 0}, q...)))
}

// ipv6Ext is a raw Hop-by-Hop or Destination Options header: next header,
// length in 8-byte units after the first 8, then PadN padding.
func ipv6Ext(next layers.IPProtocol, units int) []byte {
	b := make([]byte, 8+8*units)
	b[0], b[1] = byte(next), byte(units)
	b[2], b[3] = 1, byte(len(b)-4) // PadN option filling the rest
	return b
}

// WithIPv6Ext builds an IPv6 TCP packet behind the given chain of extension
// header types (0, 43, 60; 44 for a fragment header).
func WithIPv6Ext(src netip.Addr, sp uint16, dst netip.Addr, dp uint16, chain []layers.IPProtocol) []byte {
	ip := ipLayer(src, dst, layers.IPProtocolTCP).(*layers.IPv6)
	var ext []byte
	for i, t := range chain {
		next := layers.IPProtocolTCP
		if i+1 < len(chain) {
			next = chain[i+1]
		}
		if t == layers.IPProtocolIPv6Fragment {
			ext = append(ext, byte(next), 0, 0, 1, 0, 0, 0, 42) // offset 0, M=1
		} else {
			ext = append(ext, ipv6Ext(next, i%2)...)
		}
	}
	if len(chain) > 0 {
		ip.NextHeader = chain[0]
	}
	tcp := l4(layers.IPProtocolTCP, ip, sp, dp)
	return serialize(ethernet(SwitchMAC, layers.EthernetTypeIPv6), ip, gopacket.Payload(ext), tcp, gopacket.Payload("data"))
}
