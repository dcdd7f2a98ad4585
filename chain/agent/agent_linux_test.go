// SPDX-License-Identifier: Apache-2.0

package agent_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/contract"
	"github.com/symdist/symdist/lab"
	"github.com/symdist/symdist/test/testbed"
)

var binary string

func TestMain(m *testing.M) {
	code := func() int {
		if lab.Missing() != "" {
			return m.Run() // the tests skip
		}
		var remove func()
		var err error
		if binary, remove, err = testbed.BuildSymdist("../../cmd/symdist"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer remove()
		return m.Run()
	}()
	os.Exit(code)
}

func sh(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// The host side of the test: a client and two TMs on one L2 segment (a
// bridge standing for the distributor), both TMs serving the same VIP. The
// client's neighbour entry for the VIP is the distributor's bucket table:
// pointing it from TM a to TM b moves the bucket.
type segment struct {
	prefix           string
	client, a, b     string // namespaces
	macA, macB, macC string
}

const (
	clientIP = "10.99.0.1"
	vip      = "10.99.0.100"
)

func newSegment(t *testing.T, prefix string) *segment { return newSegmentB(t, prefix) }

func newSegmentB(t testing.TB, prefix string) *segment {
	t.Helper()
	s := &segment{prefix: prefix, client: prefix + "c", a: prefix + "a", b: prefix + "b",
		macA: "02:00:00:99:00:0a", macB: "02:00:00:99:00:0b", macC: "02:00:00:99:00:0c"}
	br := prefix + "br"
	for _, ns := range []string{s.client, s.a, s.b, br} {
		exec.Command("ip", "netns", "del", ns).Run() // left over from a killed run
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	sh(t, "ip", "-n", br, "link", "add", "br0", "type", "bridge")
	sh(t, "ip", "-n", br, "link", "set", "br0", "up")
	for _, h := range []struct{ ns, mac string }{{s.client, s.macC}, {s.a, s.macA}, {s.b, s.macB}} {
		sh(t, "ip", "link", "add", "eth0", "netns", h.ns, "address", h.mac, "type", "veth", "peer", "p"+h.ns, "netns", br)
		sh(t, "ip", "-n", br, "link", "set", "p"+h.ns, "master", "br0", "up")
		sh(t, "ip", "-n", h.ns, "link", "set", "eth0", "up")
	}
	sh(t, "ip", "-n", s.client, "addr", "add", clientIP+"/24", "dev", "eth0")
	sh(t, "ip", "-n", s.client, "neigh", "replace", vip, "lladdr", s.macA, "dev", "eth0", "nud", "permanent")
	for _, tm := range []string{s.a, s.b} {
		// Both TMs own the VIP, as TMs behind a distributor do; no ARP, so
		// they do not fight over it.
		sh(t, "ip", "-n", tm, "link", "set", "eth0", "arp", "off")
		sh(t, "ip", "-n", tm, "addr", "add", vip+"/24", "dev", "eth0")
		sh(t, "ip", "-n", tm, "neigh", "replace", clientIP, "lladdr", s.macC, "dev", "eth0", "nud", "permanent")
	}
	return s
}

// echoServer echoes lines on VIP:8080 in ns.
func echoServer(t testing.TB, ns string) {
	t.Helper()
	ln, err := lab.ListenTCP(ns, vip+":8080")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
}

// table is b's table: b owns all 16 buckets; the bucket of the client's
// connection (local port) moved from a, when chained.
func (s *segment) table(t testing.TB, local *net.TCPAddr, chained bool) string {
	t.Helper()
	const n = 16
	bt := adminapi.BucketTable{Group: "web", Buckets: make([]string, n), Peers: []adminapi.Peer{
		{TM: "a", MACs: map[string]string{"sw": s.macA}}, {TM: "b", MACs: map[string]string{"sw": s.macB}}}}
	for i := range bt.Buckets {
		bt.Buckets[i] = "b"
	}
	if chained {
		k, _ := contract.KeyForPorts(netip.MustParseAddr(clientIP), uint16(local.Port), netip.MustParseAddr(vip), 8080)
		bt.Chains = []adminapi.Chain{{Bucket: contract.Bucket(contract.Hash(k), n), Previous: "a", LeftMS: 600000}}
	}
	path := filepath.Join(t.TempDir(), "table.json")
	b, _ := json.Marshal(bt)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startAgent runs symdist chain for b in b's namespace until the test ends.
func (s *segment) startAgent(t *testing.T, table string) { s.startAgentB(t, table, "debug") }

func (s *segment) startAgentB(t testing.TB, table, logLevel string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", s.b, binary, "chain", "--tm", "b", "--table-file", table, "--log-level", logLevel)
	out, _ := os.Create(filepath.Join(t.TempDir(), "chain.log"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(out.Name())
			t.Logf("symdist chain:\n%s", b)
		}
	})
	// Running once its table is in nftables.
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("ip", "netns", "exec", s.b, "sh", "-c", "grep -q '' /proc/net/netfilter/nfnetlink_queue").Run() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the agent did not bind its queue within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cmd
}

// echoSegment is a segment whose TMs both echo, with a connection from
// the client held by a (closed when the benchmark ends).
func echoSegment(b *testing.B, prefix string) (*segment, net.Conn) {
	s := newSegmentB(b, prefix)
	echoServer(b, s.a)
	echoServer(b, s.b)
	c, err := lab.DialTCP(s.client, nil, vip+":8080", 3*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return s, c
}

// exchange sends a line on c and reads it back.
func exchange(c net.Conn, r *bufio.Reader, i int) error {
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	msg := fmt.Sprintf("line %d\n", i)
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	got, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if got != msg {
		return fmt.Errorf("echoed %q, want %q", got, msg)
	}
	return nil
}

// An established connection whose bucket moves from a to b survives when
// b runs the agent with a chain for that bucket: its packets reach a; and
// breaks without the chain (b's kernel resets it). A new connection after
// the move is b's own.
func TestChainKeepsEstablishedConnection(t *testing.T) {
	if why := lab.Missing(); why != "" {
		t.Skip("chaining: " + why)
	}
	for _, tc := range []struct {
		name    string
		chained bool
	}{{"chained", true}, {"no chain", false}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSegment(t, "ch"+tc.name[:1])
			echoServer(t, s.a)
			echoServer(t, s.b)
			c, err := lab.DialTCP(s.client, nil, vip+":8080", 3*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := bufio.NewReader(c)
			for i := range 3 {
				if err := exchange(c, r, i); err != nil {
					t.Fatalf("before the move: %v", err)
				}
			}
			s.startAgent(t, s.table(t, c.LocalAddr().(*net.TCPAddr), tc.chained))
			// The move: the distributor now sends the bucket to b.
			sh(t, "ip", "-n", s.client, "neigh", "replace", vip, "lladdr", s.macB, "dev", "eth0", "nud", "permanent")
			var broke error
			for i := 3; i < 23 && broke == nil; i++ {
				broke = exchange(c, r, i)
				time.Sleep(20 * time.Millisecond)
			}
			if tc.chained && broke != nil {
				out, _ := exec.Command("ip", "netns", "exec", s.b, "sh", "-c", "cat /proc/net/netfilter/nfnetlink_queue; nft list ruleset; cat /proc/sys/net/netfilter/nf_conntrack_tcp_loose; ip -s link show eth0").CombinedOutput()
				outA, _ := exec.Command("ip", "netns", "exec", s.a, "sh", "-c", "ip -s link show eth0; ss -tn").CombinedOutput()
				t.Logf("b:\n%s\na:\n%s", out, outA)
				t.Fatalf("the established connection broke after the move: %v", broke)
			}
			if !tc.chained && broke == nil {
				t.Fatal("without a chain the connection survived the move: the test does not move it")
			}
			// A new connection is b's (its SYN is not chained).
			c2, err := lab.DialTCP(s.client, nil, vip+":8080", 3*time.Second)
			if err != nil {
				t.Fatalf("a new connection after the move: %v", err)
			}
			defer c2.Close()
			if err := exchange(c2, bufio.NewReader(c2), 0); err != nil {
				t.Fatalf("a new connection after the move: %v", err)
			}
		})
	}
}

// BenchmarkChainedRTT: round trips of one byte on an established
// connection served by TM a, straight to a and chained by b's agent, side
// by side in one run (compare the two: the machine is shared). Reports the
// median and 99th percentile in microseconds.
func BenchmarkChainedRTT(b *testing.B) {
	if why := lab.Missing(); why != "" {
		b.Skip("chaining: " + why)
	}
	for _, chained := range []bool{false, true} {
		name := "direct"
		if chained {
			name = "chained"
		}
		b.Run(name, func(b *testing.B) {
			s, c := echoSegment(b, "cb"+name[:1])
			if chained {
				s.startAgentB(b, s.table(b, c.LocalAddr().(*net.TCPAddr), true), "info")
				sh(b, "ip", "-n", s.client, "neigh", "replace", vip, "lladdr", s.macB, "dev", "eth0", "nud", "permanent")
			}
			buf := []byte{'x'}
			var rtts []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
				rtts = append(rtts, time.Since(start))
			}
			slices.Sort(rtts)
			b.ReportMetric(float64(rtts[len(rtts)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(rtts[len(rtts)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkChainedThroughput: bulk data on one established connection
// served by TM a (the client sends 4 MiB, a echoes it back), straight to a
// with no agent, straight to a with b's agent running (its rule sees no
// INVALID packet), and chained by b's agent, side by side in one run.
// Reports MB/s of the chained direction, and for the agent its CPU time
// per MB and the packets it chained per second.
func BenchmarkChainedThroughput(b *testing.B) {
	if why := lab.Missing(); why != "" {
		b.Skip("chaining: " + why)
	}
	const size = 4 << 20
	for _, mode := range []string{"direct", "agent-idle", "chained"} {
		b.Run(mode, func(b *testing.B) {
			s, c := echoSegment(b, "ct"+mode[:2])
			var agent *exec.Cmd
			if mode != "direct" {
				agent = s.startAgentB(b, s.table(b, c.LocalAddr().(*net.TCPAddr), true), "info")
			}
			if mode == "chained" {
				sh(b, "ip", "-n", s.client, "neigh", "replace", vip, "lladdr", s.macB, "dev", "eth0", "nud", "permanent")
			}
			out, in := make([]byte, size), make([]byte, size)
			cpu0 := procCPU(b, agent)
			start := time.Now()
			n := 0
			for b.Loop() {
				errc := make(chan error, 1)
				go func() { _, err := c.Write(out); errc <- err }()
				if k, err := io.ReadFull(c, in); err != nil {
					b.Fatalf("after %d bytes of %d, iteration %d: %v", k, size, n, err)
				}
				if err := <-errc; err != nil {
					b.Fatal(err)
				}
				n++
			}
			elapsed := time.Since(start)
			mb := float64(n*size) / 1e6
			b.ReportMetric(mb/elapsed.Seconds(), "MB/s")
			if agent != nil {
				b.ReportMetric(float64((procCPU(b, agent)-cpu0).Microseconds())/mb, "agent-cpu-µs/MB")
			}
			if mode == "chained" {
				b.ReportMetric(chainedPackets(b, s)/elapsed.Seconds(), "chained-pkt/s")
			}
		})
	}
}

// procCPU is the user and system time the process has used (0 for none).
func procCPU(t testing.TB, cmd *exec.Cmd) time.Duration {
	if cmd == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (which may hold spaces): utime and
	// stime are the 12th and 13th, in clock ticks of 10 ms.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// chainedPackets is how many packets b's kernel queued to its agent: the
// id sequence of queue 3149 in /proc/net/netfilter/nfnetlink_queue
// (number, portid, waiting, copy mode, copy range, queue drops, user
// drops, id sequence, 1).
func chainedPackets(t testing.TB, s *segment) float64 {
	out, err := exec.Command("ip", "netns", "exec", s.b, "cat", "/proc/net/netfilter/nfnetlink_queue").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 9 && f[0] == "3149" {
			var id float64
			fmt.Sscan(f[7], &id) // the id of the last packet queued: how many were
			return id
		}
	}
	return 0
}
