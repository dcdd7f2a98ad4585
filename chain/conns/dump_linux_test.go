// SPDX-License-Identifier: Apache-2.0

package conns_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/adminapi/adminapitest"
	"github.com/symdist/symdist/chain/conns"
	"github.com/symdist/symdist/contract"
	"github.com/symdist/symdist/lab"
	"github.com/symdist/symdist/ports"
	"github.com/ti-mo/conntrack"
)

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

const (
	clientIP = "10.77.0.2"
	vip      = "10.77.0.100"
	tmIP     = "10.77.0.1" // the TM host's own address: its SSH
	serverIP = "10.77.1.2"
)

var snat = netip.MustParseAddr("10.77.1.100")

// setup makes three namespaces: a client, a TM host and a server. The TM
// host has the VIP on the client's side and the SNAT address on the
// server's, routes from the client to the server and source-NATs those
// connections to the SNAT address (a Linux NAT TM); it can also connect
// to the server from the SNAT address itself (a proxy).
func setup(t *testing.T) (client, host, server string) {
	p := fmt.Sprintf("cr%d", os.Getpid()%100000)
	client, host, server = p+"c", p+"t", p+"s"
	for _, ns := range []string{client, host, server} {
		exec.Command("ip", "netns", "del", ns).Run() // left over from a killed run
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	sh(t, "ip", "link", "add", "eth0", "netns", client, "type", "veth", "peer", "eth0", "netns", host)
	sh(t, "ip", "link", "add", "eth0", "netns", server, "type", "veth", "peer", "eth1", "netns", host)
	sh(t, "ip", "-n", client, "addr", "add", clientIP+"/24", "dev", "eth0")
	sh(t, "ip", "-n", client, "link", "set", "eth0", "up")
	sh(t, "ip", "-n", client, "route", "add", "10.77.1.0/24", "via", tmIP)
	sh(t, "ip", "-n", server, "addr", "add", serverIP+"/24", "dev", "eth0")
	sh(t, "ip", "-n", server, "link", "set", "eth0", "up")
	sh(t, "ip", "-n", host, "addr", "add", tmIP+"/24", "dev", "eth0")
	sh(t, "ip", "-n", host, "addr", "add", vip+"/32", "dev", "eth0")
	sh(t, "ip", "-n", host, "addr", "add", "10.77.1.1/24", "dev", "eth1")
	sh(t, "ip", "-n", host, "addr", "add", snat.String()+"/32", "dev", "eth1")
	sh(t, "ip", "-n", host, "link", "set", "eth0", "up")
	sh(t, "ip", "-n", host, "link", "set", "eth1", "up")
	sh(t, "ip", "netns", "exec", host, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
	sh(t, "ip", "netns", "exec", host, "nft", "add table ip cr; add chain ip cr post { type nat hook postrouting priority srcnat; }; "+
		"add rule ip cr post oifname eth1 ip saddr 10.77.0.0/24 snat to "+snat.String())
	return client, host, server
}

// listen accepts on addr in ns; every connection is sent on the channel
// and closed once its peer closes.
func listen(t *testing.T, ns, addr string) <-chan net.Conn {
	ln, err := lab.ListenTCP(ns, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			ch <- c
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	return ch
}

func dial(t *testing.T, ns string, local *net.TCPAddr, addr string, accepted <-chan net.Conn) (net.Conn, net.Conn) {
	t.Helper()
	c, err := lab.DialTCP(ns, local, addr, 3*time.Second)
	if err != nil {
		t.Fatalf("from %s to %s: %v", ns, addr, err)
	}
	t.Cleanup(func() { c.Close() })
	select {
	case s := <-accepted:
		return c, s
	case <-time.After(3 * time.Second):
		t.Fatalf("%s: not accepted", addr)
	}
	return nil, nil
}

func portOf(a net.Addr) uint16 { return uint16(a.(*net.TCPAddr).Port) }

// TestConntrackReport opens real connections through a TM host and checks
// what the reporter, reading the host's conntrack table, reports and
// acknowledges through a fake controller: the connection to the VIP and
// the source-NATed one, not the host's own nor the proxy's backend
// socket; the ports in use on the SNAT address (NAT and proxy socket) in
// buckets the TM does not own, not a closed connection's.
func TestConntrackReport(t *testing.T) {
	if why := lab.Missing(); why != "" {
		t.Skip("conntrack report: " + why)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("conntrack report: needs nft (nftables)")
	}
	client, host, server := setup(t)
	dumpIn := func(max int, fn func(conns.Entry)) (n int, truncated bool, err error) {
		err = lab.InNS(host, func() error {
			var err error
			n, truncated, err = conns.Dump(max, fn)
			return err
		})
		return n, truncated, err
	}

	atVIP := listen(t, host, vip+":8080")
	atHost := listen(t, host, tmIP+":2222")
	atServer := listen(t, server, serverIP+":80")
	dial(t, client, nil, vip+":8080", atVIP)                                                // the TM's (a proxy's client side)
	dial(t, client, nil, tmIP+":2222", atHost)                                              // the host's own
	_, natted := dial(t, client, nil, serverIP+":80", atServer)                             // the TM's: NAT
	backend, _ := dial(t, host, &net.TCPAddr{IP: snat.AsSlice()}, serverIP+":80", atServer) // the proxy's socket
	closed, _ := dial(t, host, &net.TCPAddr{IP: snat.AsSlice()}, serverIP+":80", atServer)
	closed.Close() // the server closes back: TIME_WAIT
	pNAT, pBackend, pClosed := portOf(natted.RemoteAddr()), portOf(backend.LocalAddr()), portOf(closed.LocalAddr())
	if natted.RemoteAddr().(*net.TCPAddr).IP.String() != snat.String() {
		t.Fatalf("the server sees the NATed connection from %v, want %s", natted.RemoteAddr(), snat)
	}

	// The table: the proxy socket's bucket is tm1's, the NATed
	// connection's is moving (tm1 is losing it), the rest tm2's.
	const n = 256
	bucket := func(p uint16) int { return contract.Bucket(contract.Hash(contract.Key{Addr: snat, Port: p}), n) }
	table := make([]string, n)
	for i := range table {
		table[i] = "tm2"
	}
	table[bucket(pBackend)] = "tm1"
	table[bucket(pNAT)] = ""
	var want []uint16
	for _, p := range []uint16{pNAT, pBackend} {
		if table[bucket(p)] != "tm1" {
			want = append(want, p)
		}
	}
	slices.Sort(want)
	wantInUse := []adminapi.InUse{{SNAT: snat.String(), Ports: ports.Ranges(want)}}
	t.Logf("NAT port %d (bucket %d), proxy port %d (bucket %d), closed %d: in_use %v", pNAT, bucket(pNAT), pBackend, bucket(pBackend), pClosed, wantInUse)

	// The closed connection leaves the table's live entries once both
	// ends have closed.
	cfg := conns.Config{VIPs: []netip.Prefix{netip.MustParsePrefix(vip + "/32")}, SNAT: []netip.Addr{snat}}
	var s *conns.Scan
	for deadline := time.Now().Add(5 * time.Second); ; {
		s = conns.NewScan(cfg)
		if _, _, err := dumpIn(0, func(e conns.Entry) { s.Add(e) }); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(s.Used(snat), pClosed) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got, want := s.Used(snat), []uint16{min(pNAT, pBackend), max(pNAT, pBackend)}; !slices.Equal(got, want) {
		t.Errorf("ports in use on %s: %v, want %v (the closed connection's %d not)", snat, got, want, pClosed)
	}
	if s.Connections != 2 || s.Entries < 5 {
		t.Errorf("%d connections in %d entries, want 2 (the VIP's and the NATed) in 5 or more", s.Connections, s.Entries)
	}

	// The reporter acknowledges and reports them to a controller.
	f := adminapitest.NewWatch(t, "tm1")
	r := &conns.Reporter{TM: "tm1", Config: cfg, Dump: dumpIn}
	c := &adminapi.Client{URL: f.URL}
	fl := adminapi.Follower{Client: c, TM: "tm1", Apply: func(adminapi.Event) error { return nil },
		OnError: func(err error) { t.Log(err) }}
	r.Attach(&fl)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go fl.Run(ctx)
	go r.Run(ctx, c)
	f.Push(1, adminapi.KindLoss, table)
	f.WaitAck(t, 1)
	if d := cmp.Diff(wantInUse, f.LastInUse()); d != "" {
		t.Errorf("the ack's in_use (-want +got):\n%s", d)
	}
	wantReport := adminapi.Report{Connections: 2, InUse: wantInUse}
	for deadline := time.After(3 * adminapi.ReportInterval); ; {
		select {
		case got := <-f.Reports():
			if cmp.Equal(wantReport, got) {
				return
			}
			t.Logf("report %+v", got) // before the table
		case <-deadline:
			t.Fatalf("no report %+v", wantReport)
		}
	}
}

// TestDumpBounded dumps a table of many entries (created over netlink in
// a namespace of its own): every one is read, over many socket buffers,
// and a dump stops at its cap.
func TestDumpBounded(t *testing.T) {
	if why := lab.Missing(); why != "" {
		t.Skip("conntrack dump: " + why)
	}
	ns := fmt.Sprintf("cr%dm", os.Getpid()%100000)
	exec.Command("ip", "netns", "del", ns).Run()
	sh(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	const n = 20000 // about 4 MB of netlink messages
	snat := netip.MustParseAddr("10.78.255.1")
	server := netip.MustParseAddr("10.78.0.1")
	err := lab.InNS(ns, func() error {
		c, err := conntrack.Dial(nil)
		if err != nil {
			return err
		}
		defer c.Close()
		for i := range n {
			client := netip.AddrFrom4([4]byte{10, 78, byte(1 + i/60000), byte(i % 250)})
			// No status: ctnetlink refuses to create these with ASSURED or
			// SEEN_REPLY set (EBUSY here).
			f := conntrack.NewFlow(conns.ProtoTCP, 0, client, server, uint16(1024+i%60000), 80, 600, 0)
			f.ProtoInfo.TCP = &conntrack.ProtoInfoTCP{State: conns.StateEstablished}
			if i%2 == 0 { // source-NATed
				f.TupleReply.IP.DestinationAddress = snat
				f.TupleReply.Proto.DestinationPort = uint16(1024 + i/2)
			}
			if err := c.Create(f); err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := conns.Config{SNAT: []netip.Addr{snat}}
	for _, tc := range []struct {
		max, want int
		truncated bool
	}{{0, n, false}, {n, n, true}, {n + 1, n, false}, {1000, 1000, true}} {
		s := conns.NewScan(cfg)
		var got int
		var truncated bool
		start := time.Now()
		err := lab.InNS(ns, func() error {
			var err error
			got, truncated, err = conns.Dump(tc.max, func(e conns.Entry) { s.Add(e) })
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("max %d: %d entries in %v", tc.max, got, time.Since(start))
		if got != tc.want || s.Entries != tc.want || truncated != tc.truncated {
			t.Errorf("max %d: %d entries (%d scanned), truncated %v; want %d, %v", tc.max, got, s.Entries, truncated, tc.want, tc.truncated)
		}
		if !tc.truncated && (s.Connections != n/2 || len(s.Used(snat)) != n/2) {
			t.Errorf("max %d: %d connections, %d ports in use, want %d each", tc.max, s.Connections, len(s.Used(snat)), n/2)
		}
	}
}
