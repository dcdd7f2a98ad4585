// SPDX-License-Identifier: Apache-2.0

package chain

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/contract"
)

var (
	client4 = net.ParseIP("198.51.100.7").To4()
	vip4    = net.ParseIP("10.0.0.80").To4()
	client6 = net.ParseIP("2001:db8::7")
	vip6    = net.ParseIP("2001:db8:1::80")
)

// ipPacket serializes layers into an IP packet (no link layer).
func ipPacket(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tcp4(t *testing.T, src, dst net.IP, sport, dport uint16, syn, ack bool) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
	tc := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), SYN: syn, ACK: ack, Window: 1000}
	tc.SetNetworkLayerForChecksum(ip)
	return ipPacket(t, ip, tc, gopacket.Payload("data"))
}

func tcp6(t *testing.T, src, dst net.IP, sport, dport uint16) []byte {
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
	tc := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), ACK: true, Window: 1000}
	tc.SetNetworkLayerForChecksum(ip)
	return ipPacket(t, ip, tc)
}

func udp4(t *testing.T, src, dst net.IP, sport, dport uint16) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst}
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	u.SetNetworkLayerForChecksum(ip)
	return ipPacket(t, ip, u)
}

// icmpErr4 is an ICMPv4 "fragmentation needed" quoting quoted.
func icmpErr4(t *testing.T, from, to net.IP, quoted []byte) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: from, DstIP: to}
	ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 4)}
	return ipPacket(t, ip, ic, gopacket.Payload(quoted))
}

func fragment4(t *testing.T) []byte {
	p := tcp4(t, client4, vip4, 40000, 80, false, true)
	p[6] |= 0x20 // more fragments
	return p
}

// bucketOf is the bucket the contract puts a (src, sport, dst, dport) flow in.
func bucketOf(src net.IP, sport uint16, dst net.IP, dport uint16, buckets int) int {
	s, _ := netip.AddrFromSlice(src)
	d, _ := netip.AddrFromSlice(dst)
	k, _ := contract.KeyForPorts(s.Unmap(), sport, d.Unmap(), dport)
	return contract.Bucket(contract.Hash(k), buckets)
}

func TestDecide(t *testing.T) {
	const n = 16
	now := time.Unix(1000, 0)
	b4 := bucketOf(client4, 40000, vip4, 80, n)
	b6 := bucketOf(client6, 40000, vip6, 443, n)
	peers := []adminapi.Peer{
		{TM: "tm1", MACs: map[string]string{"client-side": "02:00:00:00:01:01"}},
		{TM: "tm2", MACs: map[string]string{"client-side": "02:00:00:00:01:02"}},
		{TM: "tm3", MACs: map[string]string{"client-side": "02:00:00:00:01:03"}},
	}
	// table: tm2 owns every bucket; b4 and b6 moved from tm1 (or as the case says).
	table := func(owner string, chains ...adminapi.Chain) []string {
		bs := make([]string, n)
		for i := range bs {
			bs[i] = owner
		}
		return bs
	}
	chainOf := func(b int, prev string, leftMS int64) adminapi.Chain {
		return adminapi.Chain{Bucket: b, Previous: prev, LeftMS: leftMS}
	}
	tests := []struct {
		name    string
		from    string // the frame's source MAC; "" the distributor's
		self    string
		owner   string // every bucket's published owner
		chains  []adminapi.Chain
		pkt     []byte
		at      time.Duration // after the table arrived
		want    Reason
		wantPrv []string
	}{
		{"mid-stream packet, bucket moved from tm1", "", "tm2", "tm2", []adminapi.Chain{chainOf(b4, "tm1", 60000)}, tcp4(t, client4, vip4, 40000, 80, false, true), 0, Chained, []string{"tm1"}},
		{"the reply direction hashes alike", "", "tm2", "tm2", []adminapi.Chain{chainOf(b4, "tm1", 60000)}, tcp4(t, vip4, client4, 80, 40000, false, true), 0, Chained, []string{"tm1"}},
		{"SYN-ACK of a connection tm1 opened", "", "tm2", "tm2", []adminapi.Chain{chainOf(b4, "tm1", 60000)}, tcp4(t, vip4, client4, 80, 40000, true, true), 0, Chained, []string{"tm1"}},
		{"SYN opens a connection here", "", "tm2", "tm2", []adminapi.Chain{chainOf(b4, "tm1", 60000)}, tcp4(t, client4, vip4, 40000, 80, true, false), 0, NewConnection, nil},
		{"bucket moving (published empty)", "", "tm2", "", []adminapi.Chain{chainOf(b4, "tm1", 60000)}, tcp4(t, client4, vip4, 40000, 80, false, true), 0, Chained, []string{"tm1"}},
		{"window passed", "", "tm2", "tm2", []adminapi.Chain{chainOf(b4, "tm1", 60000)}, tcp4(t, client4, vip4, 40000, 80, false, true), time.Minute, Expired, nil},
		{"no chain for the bucket", "", "tm2", "tm2", nil, tcp4(t, client4, vip4, 40000, 80, false, true), 0, NoPrevious, nil},
		{"table behind the switches: the owner it names is the previous one", "", "tm1", "tm2", []adminapi.Chain{chainOf(b4, "tm3", 60000)}, tcp4(t, client4, vip4, 40000, 80, false, true), 0, Chained, []string{"tm2", "tm3"}},
		{"chained packet at its end", "", "tm1", "", []adminapi.Chain{chainOf(b4, "tm1", 60000)}, tcp4(t, client4, vip4, 40000, 80, false, true), 0, PreviousIsSelf, nil},
		{"previous owner down: the controller sent no chain", "", "tm2", "tm2", nil, tcp4(t, client4, vip4, 40000, 80, false, true), 0, NoPrevious, nil},
		{"previous owner not among the peers", "", "tm2", "tm2", []adminapi.Chain{chainOf(b4, "tm9", 60000)}, tcp4(t, client4, vip4, 40000, 80, false, true), 0, NoPrevious, nil},
		{"moved twice: every previous owner, latest first", "", "tm2", "tm2", []adminapi.Chain{chainOf(b4, "tm3", 60000), chainOf(b4, "tm1", 30000)}, tcp4(t, client4, vip4, 40000, 80, false, true), 0, Chained, []string{"tm3", "tm1"}},
		{"moved twice, the older window passed", "", "tm2", "tm2", []adminapi.Chain{chainOf(b4, "tm3", 60000), chainOf(b4, "tm1", 30000)}, tcp4(t, client4, vip4, 40000, 80, false, true), 45 * time.Second, Chained, []string{"tm3"}},
		{"table behind, this TM listed as previous: to the owner it names", "", "tm1", "tm2", []adminapi.Chain{chainOf(b4, "tm1", 60000)}, tcp4(t, client4, vip4, 40000, 80, false, true), 0, Chained, []string{"tm2"}},
		{"IPv6", "", "tm2", "tm2", []adminapi.Chain{chainOf(b6, "tm3", 60000)}, tcp6(t, client6, vip6, 40000, 443), 0, Chained, []string{"tm3"}},
		{"ICMP error about a chained connection", "", "tm2", "tm2", []adminapi.Chain{chainOf(b4, "tm1", 60000)},
			icmpErr4(t, net.ParseIP("192.0.2.1").To4(), vip4, tcp4(t, vip4, client4, 80, 40000, false, true)[:28]), 0, Chained, []string{"tm1"}},
		{"ICMP error quoting too little", "", "tm2", "tm2", []adminapi.Chain{chainOf(b4, "tm1", 60000)},
			icmpErr4(t, net.ParseIP("192.0.2.1").To4(), vip4, tcp4(t, vip4, client4, 80, 40000, false, true)[:24]), 0, NoKey, nil},
		{"UDP is left alone", "", "tm2", "tm2", []adminapi.Chain{chainOf(b4, "tm1", 60000)}, udp4(t, client4, vip4, 40000, 80), 0, NotTCP, nil},
		{"equal ports", "", "tm2", "tm2", nil, tcp4(t, client4, vip4, 80, 80, false, true), 0, NoKey, nil},
		{"fragment", "", "tm2", "tm2", []adminapi.Chain{chainOf(b4, "tm1", 60000)}, fragment4(t), 0, NoKey, nil},
		{"truncated", "", "tm2", "tm2", []adminapi.Chain{chainOf(b4, "tm1", 60000)}, tcp4(t, client4, vip4, 40000, 80, false, true)[:30], 0, Unparsable, nil},
		{"not IP", "", "tm2", "tm2", nil, []byte{0x00, 1, 2, 3}, 0, Unparsable, nil},
		{"chained here and not held: dropped, never chained on", "02:00:00:00:01:02", "tm1", "tm2", []adminapi.Chain{chainOf(b4, "tm1", 60000), chainOf(b4, "tm3", 30000)}, tcp4(t, client4, vip4, 40000, 80, false, true), 0, NotHeldHere, nil},
		{"chained here while this TM's table still says it owns the bucket: no loop", "02:00:00:00:01:02", "tm1", "tm1", []adminapi.Chain{chainOf(b4, "tm2", 60000)}, tcp4(t, client4, vip4, 40000, 80, false, true), 0, NotHeldHere, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewState(tt.self, table(tt.owner), tt.chains, peers, now)
			var src net.HardwareAddr
			if tt.from != "" {
				src, _ = net.ParseMAC(tt.from)
			}
			d := s.Decide(tt.pkt, src, now.Add(tt.at))
			if d.Reason != tt.want || !slices.Equal(d.Previous, tt.wantPrv) {
				t.Errorf("Decide = %+v, want %s to %q", d, tt.want, tt.wantPrv)
			}
		})
	}
	var none *State
	if d := none.Decide(tcp4(t, client4, vip4, 40000, 80, false, true), nil, now); d.Reason != NoTable {
		t.Errorf("no table: %+v", d)
	}
}

func FuzzDecide(f *testing.F) {
	f.Add([]byte{0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x9c, 0x40, 0, 80})
	f.Add([]byte{0x60})
	s := NewState("tm2", make([]string, 16), []adminapi.Chain{{Bucket: 3, Previous: "tm1", LeftMS: 1000}},
		[]adminapi.Peer{{TM: "tm1", MACs: map[string]string{"a": "02:00:00:00:00:01"}}}, time.Unix(0, 0))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		d := s.Decide(pkt, nil, time.Unix(0, 0))
		if d.Reason == Chained && !slices.Equal(d.Previous, []string{"tm1"}) {
			t.Fatalf("chained to %q", d.Previous)
		}
	})
}

// BenchmarkDecide: the decision for one chained packet (IPv4 TCP, a
// bucket with two previous owners), the agent's work besides the queue
// round trip and the send.
func BenchmarkDecide(b *testing.B) {
	t := &testing.T{}
	pkt := tcp4(t, client4, vip4, 40000, 80, false, true)
	bucket := bucketOf(client4, 40000, vip4, 80, 4096)
	buckets := make([]string, 4096)
	for i := range buckets {
		buckets[i] = "tm2"
	}
	s := NewState("tm2", buckets, []adminapi.Chain{{Bucket: bucket, Previous: "tm3", LeftMS: 60000}, {Bucket: bucket, Previous: "tm1", LeftMS: 60000}},
		[]adminapi.Peer{{TM: "tm1", MACs: map[string]string{"sw": "02:00:00:00:00:01"}}, {TM: "tm3", MACs: map[string]string{"sw": "02:00:00:00:00:03"}}}, time.Now())
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if d := s.Decide(pkt, nil, now); d.Reason != Chained {
			b.Fatal(d)
		}
	}
}
