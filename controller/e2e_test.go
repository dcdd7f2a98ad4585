// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/symdist/symdist/test/testbed"

	"github.com/symdist/symdist/p4rt"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket/layers"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/controller"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swswitch"
	"github.com/symdist/symdist/vectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

// testSwitch is a software switch on loopback gRPC with in-process ports.
type testSwitch struct {
	addr   string
	sw     *swswitch.Switch
	served *swswitch.Served
	ports  map[uint16]*swswitch.PipePort
	mu     sync.Mutex
	out    map[uint16][][]byte // frames sent per port
	// remote, set instead of sw, is a switch in another process (bmv2)
	// whose bucket_table is read over P4Runtime (pair_test.go).
	remote *tableFeed
}

// startSwitch starts a software switch; addr "" picks a free port. opts
// are added to its gRPC server's.
func startSwitch(t testing.TB, addr string, deviceID uint64, opts ...grpc.ServerOption) *testSwitch {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ts := &testSwitch{out: map[uint16][][]byte{}}
	var served *swswitch.Served
	var err error
	for i := 0; i < 50; i++ { // the old switch's port may take a moment to free
		ts.ports = map[uint16]*swswitch.PipePort{}
		ports := map[uint16]swswitch.Port{}
		for _, n := range []uint16{1, 2, 3, 4, 5} {
			p := swswitch.NewPipePort(func(f []byte) {
				ts.mu.Lock()
				ts.out[n] = append(ts.out[n], f)
				ts.mu.Unlock()
			})
			ts.ports[n], ports[n] = p, p
		}
		if served, err = swswitch.Listen(swswitch.Config{Addr: addr, DeviceID: deviceID, Ports: ports, ServerOptions: opts}); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ts.served, ts.sw, ts.addr = served, served.Switch, served.Addr()
	t.Cleanup(ts.stop)
	return ts
}

// stop ends the switch as a crash would (swswitch.Served.Kill).
func (ts *testSwitch) stop() { ts.served.Kill() }

// send runs a frame through the switch synchronously and returns the
// ports it left by.
func (ts *testSwitch) send(port uint16, frame []byte) []uint16 {
	ts.mu.Lock()
	ts.out = map[uint16][][]byte{}
	ts.mu.Unlock()
	ts.sw.Receive(port, frame)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var ports []uint16
	for p := range ts.out {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	return ports
}

// bucketTable reads a switch's bucket_table: member id per bucket of group 1.
func (ts *testSwitch) bucketTable(t *testing.T) []uint32 {
	t.Helper()
	if ts.remote != nil {
		return ts.remote.now(t)
	}
	p := ts.sw.Server().Pipeline()
	if p == nil {
		return nil
	}
	ids, _ := p.Schema().Resolve()
	table := make([]uint32, 4096)
	err := p.Read(&p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: ids.BucketTable.Table}}}, func(e *p4v1.Entity) error {
		var g, b uint64
		for _, m := range e.GetTableEntry().GetMatch() {
			var x uint64
			for _, c := range m.GetExact().GetValue() {
				x = x<<8 | uint64(c)
			}
			if m.GetFieldId() == ids.BucketTable.GroupID {
				g = x
			} else {
				b = x
			}
		}
		if g == 1 {
			table[b] = e.GetTableEntry().GetAction().GetActionProfileMemberId()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// healthTarget is a TCP listener a TM's health check connects to.
type healthTarget struct {
	addr string
	ln   net.Listener
}

func newHealthTarget(t *testing.T) *healthTarget {
	return restartHealthTarget(t, "127.0.0.1:0")
}

const configTemplate = `
election_id: %d
admin: {listen: "127.0.0.1:0"}
switches:
  - name: client-side
    address: %s
    device_id: 1
    ports: [{port: 1, role: edge}, {port: 2, role: tm}, {port: 3, role: tm}, {port: 4, role: tm}, {port: 5, role: peer}]
  - name: server-side
    address: %s
    device_id: 2
    ports: [{port: 1, role: edge}, {port: 2, role: tm}, {port: 3, role: tm}, {port: 4, role: tm}, {port: 5, role: peer}]
groups:
  - name: web
    id: 1
    default_tm: tm1
    rules: [{priority: 10, ip_version: 4, dst: 10.0.0.0/8}]
tms:
%s`

// tmYAML is TM i's config. The tests fail a TM by closing its health
// target, refused at once; the timeout is long enough that a loaded
// machine does not fail the TMs a test keeps up (40 ms timed out on
// loopback under load 15).
func tmYAML(i int, health string) string {
	return fmt.Sprintf(`  - name: tm%d
    id: %d
    group: web
    ports:
      client-side: {port: %d, mac: "02:00:00:00:01:0%d"}
      server-side: {port: %d, mac: "02:00:00:00:02:0%d"}
    health: {type: tcp, target: "%s", interval: 200ms, timeout: 190ms, rise: 2, fall: 3}
`, i, i, i+1, i, i+1, i, health)
}

type lab struct {
	client, server *testSwitch
	health         []*healthTarget
}

func newLab(t *testing.T) *lab {
	l := &lab{client: startSwitch(t, "", 1), server: startSwitch(t, "", 2)}
	for i := 0; i < 3; i++ {
		l.health = append(l.health, newHealthTarget(t))
	}
	return l
}

func (l *lab) config(t *testing.T, electionID uint64) *config.Config {
	tms := ""
	for i, h := range l.health {
		tms += tmYAML(i+1, h.addr)
	}
	cfg, err := config.Parse("test.yaml", []byte(fmt.Sprintf(configTemplate, electionID, l.client.addr, l.server.addr, tms)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runController starts a controller; stop ends it and waits.
func runController(t testing.TB, cfg *config.Config) (c *controller.Controller, stop func()) {
	t.Helper()
	var w io.Writer = io.Discard
	if testing.Verbose() {
		w = os.Stderr
	}
	return startController(t, cfg, slog.NewTextHandler(w, nil), nil)
}

// startController starts a controller logging to h; setup, if not nil,
// adjusts it before it runs.
func startController(t testing.TB, cfg *config.Config, h slog.Handler, setup func(*controller.Controller)) (c *controller.Controller, stop func()) {
	t.Helper()
	c, err := controller.New(cfg, slog.New(h))
	if setup != nil && err == nil {
		setup(c)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return c, stop
}

func inSync(c *controller.Controller) bool {
	st := c.Status()
	for _, s := range st.Switches {
		if !s.InSync {
			return false
		}
	}
	return true
}

// flowsReachSameTM sends n flows' requests through the client side and
// replies through the server side, and returns the TM index (0-2) of each.
func flowsReachSameTM(t *testing.T, l *lab, n int) []int {
	t.Helper()
	tms := make([]int, n)
	for i := 0; i < n; i++ {
		client := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		vip := netip.MustParseAddr("10.0.0.100")
		sp := uint16(10000 + i*7)
		req := l.client.send(1, vectors.Flow(layers.IPProtocolTCP, client, sp, vip, 80, nil))
		rep := l.server.send(1, vectors.Flow(layers.IPProtocolTCP, vip, 80, client, sp, nil))
		if len(req) != 1 || len(rep) != 1 || req[0] != rep[0] || req[0] < 2 || req[0] > 4 {
			t.Fatalf("flow %d: request left client side by %v, reply left server side by %v", i, req, rep)
		}
		tms[i] = int(req[0]) - 2
	}
	return tms
}

func TestEndToEnd(t *testing.T) {
	top := t // what must outlive a subtest is cleaned up by the top test
	l := newLab(t)
	c, stop := runController(t, l.config(t, 10))
	testbed.Eventually(t, "initial programming", 10*time.Second, func() bool { return inSync(c) })

	// Both switches hold the same table, with every TM's share.
	before := l.client.bucketTable(t)
	if diff := cmp.Diff(before, l.server.bucketTable(t)); diff != "" {
		t.Fatalf("switches disagree (-client +server):\n%s", diff)
	}
	counts := map[uint32]int{}
	for _, m := range before {
		counts[m]++
	}
	for _, m := range []uint32{1, 2, 3} {
		if counts[m] < 1365 || counts[m] > 1366 {
			t.Errorf("TM %d has %d buckets, want 1365-1366", m, counts[m])
		}
	}
	flows := flowsReachSameTM(t, l, 300)

	t.Run("TM fails its health check: only its buckets move, on both switches", func(t *testing.T) {
		l.health[1].ln.Close()
		testbed.Eventually(t, "tm2 to lose its buckets", 10*time.Second, func() bool {
			return !slices.Contains(l.client.bucketTable(t), 2) && !slices.Contains(l.server.bucketTable(t), 2)
		})
		testbed.Eventually(t, "sync", 10*time.Second, func() bool { return inSync(c) })
		after := l.client.bucketTable(t)
		if diff := cmp.Diff(after, l.server.bucketTable(t)); diff != "" {
			t.Fatalf("switches disagree after failover:\n%s", diff)
		}
		for b := range before {
			if before[b] != 2 && after[b] != before[b] {
				t.Fatalf("bucket %d moved from TM %d to %d though TM %d did not fail", b, before[b], after[b], before[b])
			}
		}
		now := flowsReachSameTM(t, l, 300)
		for i := range flows {
			if flows[i] != 1 && now[i] != flows[i] {
				t.Fatalf("flow %d moved from TM %d to %d", i, flows[i]+1, now[i]+1)
			}
			if now[i] == 1 {
				t.Fatalf("flow %d still goes to the failed TM", i)
			}
		}
		if st := c.Status(); st.Groups[0].TMs[1].Healthy {
			t.Error("status still shows tm2 healthy")
		}
	})

	t.Run("switch restart: state restored", func(t *testing.T) {
		want := l.client.bucketTable(t)
		addr := l.server.addr
		l.server.stop()
		l.server = startSwitch(top, addr, 2)
		testbed.Eventually(t, "restarted switch reprogrammed", 10*time.Second, func() bool {
			return inSync(c) && cmp.Equal(l.server.bucketTable(t), want)
		})
		flowsReachSameTM(t, l, 100)
	})

	t.Run("controller restart: nothing moves, nothing written", func(t *testing.T) {
		want := l.client.bucketTable(t)
		stop()
		c2, _ := runController(top, l.config(t, 10))
		testbed.Eventually(t, "new controller in sync", 10*time.Second, func() bool { return inSync(c2) })
		if got := l.client.bucketTable(t); !cmp.Equal(got, want) {
			t.Fatal("bucket table changed across a controller restart")
		}
		for _, s := range c2.Status().Switches {
			if s.LastWritten != 0 {
				t.Errorf("restarted controller wrote %d updates to %s, want 0", s.LastWritten, s.Name)
			}
		}
		if st := c2.Status(); st.Groups[0].TMs[1].Healthy {
			t.Error("adopted table has no bucket for tm2, yet the new controller thinks it healthy")
		}
		c = c2
	})

	t.Run("TM recovers: it gets its share back, only from the others", func(t *testing.T) {
		before := l.client.bucketTable(t)
		l.health[1] = restartHealthTarget(t, l.health[1].addr)
		testbed.Eventually(t, "tm2 back", 10*time.Second, func() bool {
			n := 0
			for _, m := range l.client.bucketTable(t) {
				if m == 2 {
					n++
				}
			}
			return n >= 1365 && inSync(c)
		})
		after := l.client.bucketTable(t)
		for b := range before {
			if after[b] != before[b] && after[b] != 2 {
				t.Fatalf("bucket %d moved from TM %d to TM %d", b, before[b], after[b])
			}
		}
	})
}

func restartHealthTarget(t *testing.T, addr string) *healthTarget {
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return &healthTarget{addr: ln.Addr().String(), ln: ln}
}

// Two controllers: the backup (lower election id) writes nothing; when the
// primary dies the backup takes over from the switches' state.
func TestPrimaryBackupFailover(t *testing.T) {
	l := newLab(t)
	primary, stopPrimary := runController(t, l.config(t, 20))
	testbed.Eventually(t, "primary in sync", 10*time.Second, func() bool { return inSync(primary) })
	want := l.client.bucketTable(t)
	backup, _ := runController(t, l.config(t, 10))
	testbed.Eventually(t, "backup connected", 10*time.Second, func() bool {
		for _, s := range backup.Status().Switches {
			if !s.Connected {
				return false
			}
		}
		return true
	})
	for _, s := range backup.Status().Switches {
		if s.Primary || s.LastWritten != 0 || !s.LastSync.IsZero() {
			t.Fatalf("backup acts as primary on %s: %+v", s.Name, s)
		}
	}
	stopPrimary()
	testbed.Eventually(t, "backup takes over", 10*time.Second, func() bool { return inSync(backup) })
	if got := l.client.bucketTable(t); !cmp.Equal(got, want) {
		t.Error("bucket table changed when the backup took over")
	}
	for _, s := range backup.Status().Switches {
		if s.LastWritten != 0 {
			t.Errorf("new primary rewrote %d updates on %s, want 0", s.LastWritten, s.Name)
		}
	}
	flowsReachSameTM(t, l, 100)
}

// A batch with failing updates: every failure comes back decoded, with
// its index, code and entity.
func TestWriteErrorsDecoded(t *testing.T) {
	ts := startSwitch(t, "", 1)
	conn, err := grpc.NewClient(ts.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	sess, err := p4rt.Open(ctx, conn, 1, 5, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	schema := p4info.MustLoad()
	if err := sess.SetPipeline(ctx, schema.Info, p4info.BMv2JSON(), p4info.Cookie()); err != nil {
		t.Fatal(err)
	}
	ids, _ := schema.Resolve()
	b := entries.Builder{IDs: ids}
	ups := entries.Inserts(b.PortRole(1, 1), b.PortRole(1, 1), b.Bucket(1, 0, 77), b.PortRole(2, 1))
	err = sess.Write(ctx, ups)
	var we *p4rt.WriteError
	if !errors.As(err, &we) {
		t.Fatalf("Write = %v, want a WriteError", err)
	}
	got := map[int]codes.Code{}
	for _, u := range we.Updates {
		got[u.Index] = u.Code
		if u.Update != ups[u.Index] {
			t.Errorf("update %d: entity not the one sent", u.Index)
		}
	}
	want := map[int]codes.Code{1: codes.AlreadyExists, 2: codes.NotFound}
	if !cmp.Equal(got, want) {
		t.Errorf("failed updates = %v, want %v (%v)", got, want, err)
	}
}
