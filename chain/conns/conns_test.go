// SPDX-License-Identifier: Apache-2.0

package conns

import (
	"bytes"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/contract"
	"github.com/symdist/symdist/ports"
)

var (
	snat4 = netip.MustParseAddr("10.3.0.1")
	snat6 = netip.MustParseAddr("2001:db8::1")
	cfg   = Config{
		VIPs: []netip.Prefix{netip.MustParsePrefix("10.3.0.10/32"), netip.MustParsePrefix("2001:db8::10/128")},
		SNAT: []netip.Addr{snat4, snat6},
	}
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// tcp is a TCP entry from orig src to orig dst, replied from rsrc to rdst.
func tcp(state uint8, osrc, odst, rsrc, rdst string) Entry {
	return Entry{Proto: ProtoTCP, State: state, Orig: Tuple{ap(osrc), ap(odst)}, Reply: Tuple{ap(rsrc), ap(rdst)}}
}

func TestLive(t *testing.T) {
	want := map[uint8]bool{StateSynSent: true, StateSynRecv: true, StateEstablished: true, StateFinWait: true,
		StateCloseWait: true, StateLastAck: true, StateSynSent2: true}
	for s := uint8(0); s < 12; s++ {
		if Live(s) != want[s] {
			t.Errorf("Live(%d) = %v, want %v", s, Live(s), want[s])
		}
	}
}

// TestAdd: which entries are the TM's connections, and which ports of an
// SNAT address they use.
func TestAdd(t *testing.T) {
	for _, tc := range []struct {
		name  string
		e     Entry
		conns int64
		used4 []uint16
		used6 []uint16
	}{
		{"client to a VIP (proxy's client side)", tcp(StateEstablished, "192.0.2.5:40000", "10.3.0.10:80", "10.3.0.10:80", "192.0.2.5:40000"), 1, nil, nil},
		{"client to a VIP, SYN_SENT", tcp(StateSynSent, "192.0.2.5:40000", "10.3.0.10:80", "10.3.0.10:80", "192.0.2.5:40000"), 1, nil, nil},
		{"client to a VIP, SYN_RECV", tcp(StateSynRecv, "192.0.2.5:40000", "10.3.0.10:80", "10.3.0.10:80", "192.0.2.5:40000"), 1, nil, nil},
		{"client to a VIP, FIN_WAIT", tcp(StateFinWait, "192.0.2.5:40000", "10.3.0.10:80", "10.3.0.10:80", "192.0.2.5:40000"), 1, nil, nil},
		{"client to a VIP, CLOSE_WAIT", tcp(StateCloseWait, "192.0.2.5:40000", "10.3.0.10:80", "10.3.0.10:80", "192.0.2.5:40000"), 1, nil, nil},
		{"client to a VIP, LAST_ACK", tcp(StateLastAck, "192.0.2.5:40000", "10.3.0.10:80", "10.3.0.10:80", "192.0.2.5:40000"), 1, nil, nil},
		{"client to a VIP, SYN_SENT2", tcp(StateSynSent2, "192.0.2.5:40000", "10.3.0.10:80", "10.3.0.10:80", "192.0.2.5:40000"), 1, nil, nil},
		{"client to a VIP, TIME_WAIT", tcp(StateTimeWait, "192.0.2.5:40000", "10.3.0.10:80", "10.3.0.10:80", "192.0.2.5:40000"), 0, nil, nil},
		{"client to a VIP, CLOSE", tcp(StateClose, "192.0.2.5:40000", "10.3.0.10:80", "10.3.0.10:80", "192.0.2.5:40000"), 0, nil, nil},
		{"client to a VIP, NONE", tcp(StateNone, "192.0.2.5:40000", "10.3.0.10:80", "10.3.0.10:80", "192.0.2.5:40000"), 0, nil, nil},
		{"UDP to a VIP", Entry{Proto: 17, Orig: Tuple{ap("192.0.2.5:40000"), ap("10.3.0.10:53")}, Reply: Tuple{ap("10.3.0.10:53"), ap("192.0.2.5:40000")}}, 0, nil, nil},
		{"IPv6 client to a VIP", tcp(StateEstablished, "[2001:db8:1::5]:40000", "[2001:db8::10]:443", "[2001:db8::10]:443", "[2001:db8:1::5]:40000"), 1, nil, nil},
		{"another address of the host (its SSH)", tcp(StateEstablished, "192.0.2.9:5555", "192.0.2.1:22", "192.0.2.1:22", "192.0.2.9:5555"), 0, nil, nil},
		{"source-NATed by the host (Linux NAT)", tcp(StateEstablished, "192.0.2.5:40000", "198.51.100.7:80", "198.51.100.7:80", "10.3.0.1:50000"), 1, []uint16{50000}, nil},
		{"source-NATed, IPv6", tcp(StateEstablished, "[2001:db8:1::5]:40000", "[2001:db8:2::7]:80", "[2001:db8:2::7]:80", "[2001:db8::1]:50000"), 1, nil, []uint16{50000}},
		{"to a VIP, DNATed and SNATed: one connection", tcp(StateEstablished, "192.0.2.5:40000", "10.3.0.10:80", "198.51.100.7:80", "10.3.0.1:50002"), 1, []uint16{50002}, nil},
		{"source-NATed, TIME_WAIT", tcp(StateTimeWait, "192.0.2.5:40000", "198.51.100.7:80", "198.51.100.7:80", "10.3.0.1:50000"), 0, nil, nil},
		{"the proxy's own socket from the SNAT address", tcp(StateEstablished, "10.3.0.1:50001", "198.51.100.7:80", "198.51.100.7:80", "10.3.0.1:50001"), 0, []uint16{50001}, nil},
		{"the proxy's own socket, CLOSE_WAIT", tcp(StateCloseWait, "10.3.0.1:50001", "198.51.100.7:80", "198.51.100.7:80", "10.3.0.1:50001"), 0, []uint16{50001}, nil},
		{"the proxy's own socket, TIME_WAIT", tcp(StateTimeWait, "10.3.0.1:50001", "198.51.100.7:80", "198.51.100.7:80", "10.3.0.1:50001"), 0, nil, nil},
		{"a connection to the SNAT address, not from it", tcp(StateEstablished, "198.51.100.7:3333", "10.3.0.1:22", "10.3.0.1:22", "198.51.100.7:3333"), 0, nil, nil},
		{"source-NATed to an address not the TM's", tcp(StateEstablished, "192.0.2.5:40000", "198.51.100.7:80", "198.51.100.7:80", "10.3.0.2:50000"), 0, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewScan(cfg)
			s.Add(tc.e)
			if s.Entries != 1 || s.Connections != tc.conns {
				t.Errorf("entries %d, connections %d, want 1, %d", s.Entries, s.Connections, tc.conns)
			}
			if got := s.Used(snat4); !slices.Equal(got, tc.used4) {
				t.Errorf("ports used on %s: %v, want %v", snat4, got, tc.used4)
			}
			if got := s.Used(snat6); !slices.Equal(got, tc.used6) {
				t.Errorf("ports used on %s: %v, want %v", snat6, got, tc.used6)
			}
		})
	}
}

func bucketOf(a netip.Addr, p uint16, n int) int {
	return contract.Bucket(contract.Hash(contract.Key{Addr: a, Port: p}), n)
}

// portsInBuckets returns, for each bucket b of want, a port p > 1023 of a
// whose bucket is b.
func portsInBuckets(a netip.Addr, n int, want ...int) []uint16 {
	var out []uint16
	for _, b := range want {
		for p := uint16(1024); ; p++ {
			if bucketOf(a, p, n) == b {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// TestInUse: the ports in use whose bucket is not the TM's in the table
// in force, per SNAT address, as symdist tm writes them.
func TestInUse(t *testing.T) {
	const n = 16
	p4 := portsInBuckets(snat4, n, 0, 1, 2) // own, another TM's, moving
	p6 := portsInBuckets(snat6, n, 0, 3)    // own, another TM's
	s := NewScan(cfg)
	for _, p := range p4 {
		s.Add(tcp(StateEstablished, "192.0.2.5:40000", "198.51.100.7:80", "198.51.100.7:80", netip.AddrPortFrom(snat4, p).String()))
	}
	for _, p := range p6 {
		a := netip.AddrPortFrom(snat6, p).String()
		s.Add(tcp(StateEstablished, a, "[2001:db8:2::7]:80", "[2001:db8:2::7]:80", a))
	}
	table := make([]string, n)
	for i := range table {
		table[i] = "tm2"
	}
	table[0], table[2] = "tm1", "" // bucket 2 is moving: tm1 just lost it
	for _, tc := range []struct {
		name    string
		buckets []string
		tm      string
		want    []adminapi.InUse
	}{
		{"no table yet", nil, "tm1", nil},
		{"tm1 lost buckets 1 and 2", table, "tm1", []adminapi.InUse{
			{SNAT: "10.3.0.1", Ports: rangesOf(p4[1], p4[2])},
			{SNAT: "2001:db8::1", Ports: rangesOf(p6[1])},
		}},
		{"a TM that owns nothing: every port", table, "tm3", []adminapi.InUse{
			{SNAT: "10.3.0.1", Ports: rangesOf(p4...)},
			{SNAT: "2001:db8::1", Ports: rangesOf(p6...)},
		}},
		{"not a power of two", table[:3], "tm1", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, s.InUse(tc.buckets, tc.tm)); d != "" {
				t.Errorf("in_use (-want +got):\n%s", d)
			}
		})
	}
	all := make([]string, n)
	for i := range all {
		all[i] = "tm1"
	}
	if got := s.InUse(all, "tm1"); got != nil {
		t.Errorf("in_use of a TM owning every bucket: %v, want none", got)
	}
}

// rangesOf is p as symdist tm writes them.
func rangesOf(p ...uint16) string {
	p = slices.Clone(p)
	slices.Sort(p)
	return ports.Ranges(p)
}

// fakeDump hands out entries, or fails.
type fakeDump struct {
	entries []Entry
	err     error
	calls   int
}

func (d *fakeDump) dump(max int, fn func(Entry)) (int, bool, error) {
	d.calls++
	if d.err != nil {
		return 0, false, d.err
	}
	for i, e := range d.entries {
		if i == max {
			return i, true, nil
		}
		fn(e)
	}
	return len(d.entries), false, nil
}

// TestReporter: a report and an ack's in_use from one dump; no report
// while conntrack cannot be read; a dump bounded by Max.
func TestReporter(t *testing.T) {
	p := portsInBuckets(snat4, 4, 1)
	nat := tcp(StateEstablished, "192.0.2.5:40000", "198.51.100.7:80", "198.51.100.7:80", netip.AddrPortFrom(snat4, p[0]).String())
	d := &fakeDump{entries: []Entry{nat, tcp(StateEstablished, "192.0.2.6:40000", "10.3.0.10:80", "10.3.0.10:80", "192.0.2.6:40000")}}
	r := &Reporter{TM: "tm1", Config: cfg, Dump: d.dump}
	r.SetTable([]string{"tm1", "", "tm2", "tm1"})
	rep, ok := r.Report()
	want := adminapi.Report{Connections: 2, InUse: []adminapi.InUse{{SNAT: "10.3.0.1", Ports: rangesOf(p[0])}}}
	if d := cmp.Diff(want, rep); !ok || d != "" {
		t.Fatalf("report (ok %v; -want +got):\n%s", ok, d)
	}
	// An ack right after reuses the dump; the table it is checked against
	// is the one in force.
	r.SetTable([]string{"tm1", "tm1", "tm2", "tm1"})
	if got := r.InUse(); got != nil || d.calls != 1 {
		t.Errorf("in_use after regaining the bucket: %v (dumps %d), want none from the same dump", got, d.calls)
	}
	r.mu.Lock()
	r.lastAt = time.Now().Add(-time.Second) // older than AckFresh
	r.mu.Unlock()
	r.InUse()
	if d.calls != 2 {
		t.Errorf("%d dumps, want an ack to dump again after %v", d.calls, AckFresh)
	}

	r.Max = 1
	r.mu.Lock()
	r.last = nil
	r.mu.Unlock()
	if rep, _ := r.Report(); rep.Connections != 1 || !r.last.Truncated {
		t.Errorf("report over Max: %+v, truncated %v, want 1 connection, truncated", rep, r.last.Truncated)
	}

	d.err = errors.New("operation not permitted")
	r.mu.Lock()
	r.last = nil
	r.mu.Unlock()
	var logs bytes.Buffer
	r.Log = slog.New(slog.NewTextHandler(&logs, nil))
	if rep, ok := r.Report(); ok {
		t.Errorf("report without conntrack: %+v, want none", rep)
	}
	if got := r.InUse(); got != nil {
		t.Errorf("in_use without conntrack: %v, want none", got)
	}
	d.err = nil
	if _, ok := r.Report(); !ok {
		t.Error("no report once conntrack is readable again")
	}
	got := [2]int{strings.Count(logs.String(), "conntrack unavailable"), strings.Count(logs.String(), "conntrack readable again")}
	if got != [2]int{1, 1} {
		t.Errorf("log lines (unavailable, again): %v, want one each:\n%s", got, logs.String())
	}
}
