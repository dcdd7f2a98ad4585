// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/symdist/symdist/ports"
	"github.com/symdist/symdist/test/testbed"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/adminapi/adminapitest"
	"github.com/symdist/symdist/contract"
)

func allTo(tm string) []string {
	b := make([]string, contract.DefaultBuckets)
	for i := range b {
		b[i] = tm
	}
	return b
}

// A TM that owns no bucket yet (it just joined: the switches may already
// send it flows, the gain is on its way) holds the client's connection
// until the gain arrives, instead of resetting it.
func TestHoldUntilGain(t *testing.T) {
	f := adminapitest.NewWatch(t, "tm1")
	f.Push(1, adminapi.KindInitial, allTo("tm2"))
	a := newEchoBackend(t, "a")
	s, _ := start(t, Config{Backends: []string{a.addr()}, Controller: f.URL, Hold: 10 * time.Second})
	f.WaitAck(t, 1)
	if st := s.Stats(); st.SelfPorts.Table != 0 || st.Buckets.Mode != "watch" || st.Buckets.Version != 1 {
		t.Fatalf("stats %+v %+v, want no self port, watch mode, version 1", st.SelfPorts, st.Buckets)
	}
	c := dial(t, s)
	testbed.Eventually(t, "the connection to wait for a port", 5*time.Second, func() bool { return s.Stats().Connections.WaitedForPort == 1 })
	if n := len(a.sources()); n != 0 {
		t.Fatalf("backend saw %d connections before the TM had a port", n)
	}
	f.Push(2, adminapi.KindGain, halfTable())
	if got := c.hello(); got != "a" {
		t.Fatalf("backend %q", got)
	}
	if got := c.finish("ping"); got != "pingbye" {
		t.Errorf("answer %q", got)
	}
	f.WaitAck(t, 2)
	if p := a.sources()[0].Port(); !isSelfPort(halfTable(), p) {
		t.Errorf("source port %d is not a self port of the gained table", p)
	}
	testbed.Eventually(t, "the connection to end", 5*time.Second, func() bool { return s.Stats().Connections.Completed == 1 })
	st := s.Stats().Connections
	if st.Failed != 0 || st.PortWaitTimeouts != 0 || st.WaitedForPort != 1 {
		t.Errorf("connections %+v", st)
	}
}

// The hold is bounded; without one (Hold 0) the connection fails at once.
func TestHoldTimesOut(t *testing.T) {
	for _, tc := range []struct {
		name     string
		hold     time.Duration
		timeouts int64
	}{{"hold 300ms", 300 * time.Millisecond, 1}, {"no hold", 0, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			f := adminapitest.NewWatch(t, "tm1")
			f.Push(1, adminapi.KindInitial, allTo("tm2"))
			a := newEchoBackend(t, "a")
			s, _ := start(t, Config{Backends: []string{a.addr()}, Controller: f.URL, Hold: tc.hold})
			began := time.Now()
			c := dial(t, s)
			if _, err := c.r.ReadByte(); err == nil {
				t.Fatal("want the connection closed: no self port came")
			}
			took := time.Since(began)
			testbed.Eventually(t, "the failure", 5*time.Second, func() bool { return s.Stats().Connections.Failed == 1 })
			st := s.Stats().Connections
			if st.PortWaitTimeouts != tc.timeouts || took < tc.hold || took > tc.hold+3*time.Second {
				t.Errorf("failed after %v with %d wait timeouts; want after %v with %d", took, st.PortWaitTimeouts, tc.hold, tc.timeouts)
			}
		})
	}
}

// A loss stops the allocation of the lost ports before it is
// acknowledged: when the ack arrives the port table no longer has them,
// and no connection after it uses one.
func TestLossAppliedBeforeAck(t *testing.T) {
	f := adminapitest.NewWatch(t, "tm1")
	f.Push(1, adminapi.KindInitial, halfTable())
	a := newEchoBackend(t, "a")
	s, _ := start(t, Config{Backends: []string{a.addr()}, Controller: f.URL, LossGrace: time.Second})
	f.WaitAck(t, 1)
	// tm1 loses every other of its buckets (to nobody yet: a loss).
	after := halfTable()
	for b := 0; b < len(after); b += 4 {
		after[b] = ""
	}
	var lost []uint16
	for p := 1024; p < 65536; p++ {
		if isSelfPort(halfTable(), uint16(p)) && !isSelfPort(after, uint16(p)) {
			lost = append(lost, uint16(p))
		}
	}
	stillOwn := make(chan []uint16, 1)
	f.OnAck(func(uint64) {
		var own []uint16
		for _, p := range lost {
			if s.Table().IsOwn(p) {
				own = append(own, p)
			}
		}
		stillOwn <- own
	})
	f.Push(2, adminapi.KindLoss, after)
	f.WaitAck(t, 2)
	if own := <-stillOwn; len(own) != 0 {
		t.Fatalf("at the ack %d lost ports were still self ports, e.g. %d", len(own), own[0])
	}
	for range 40 {
		c := dial(t, s)
		c.hello()
		c.finish("")
	}
	for _, src := range a.sources() {
		if slices.Contains(lost, src.Port()) {
			t.Fatalf("a connection after the ack used lost port %d", src.Port())
		}
	}
	if st := s.Stats().Buckets; st.Version != 2 || st.Lost != int64(len(lost)) {
		t.Errorf("buckets %+v, want version 2 and %d ports lost", st, len(lost))
	}
}

// loseOpenConnectionsPort starts tm1 (with lossGrace) on half the
// buckets, opens a connection, and pushes table 2: the loss of the
// bucket of the connection's self port p.
func loseOpenConnectionsPort(t *testing.T, lossGrace time.Duration) (*adminapitest.Watch, *Server, *client, uint16) {
	t.Helper()
	f := adminapitest.NewWatch(t, "tm1")
	f.Push(1, adminapi.KindInitial, halfTable())
	a := newEchoBackend(t, "a")
	s, _ := start(t, Config{Backends: []string{a.addr()}, Controller: f.URL, LossGrace: lossGrace})
	f.WaitAck(t, 1)
	c := dial(t, s)
	c.hello()
	p := a.sources()[0].Port()
	after := halfTable()
	after[contract.Bucket(contract.Hash(contract.Key{Addr: loopback, Port: p}), len(after))] = ""
	f.Push(2, adminapi.KindLoss, after)
	return f, s, c, p
}

// With a connection still on a port being lost, the ack waits for it to
// end (up to LossGrace), so short connections finish before the switches
// move their replies.
func TestLossGraceWaitsForConnections(t *testing.T) {
	f, _, c, p := loseOpenConnectionsPort(t, 20*time.Second)
	select {
	case v := <-f.Acks():
		t.Fatalf("version %d acknowledged while a connection still uses lost port %d", v, p)
	case <-time.After(300 * time.Millisecond):
	}
	c.finish("")
	f.WaitAck(t, 2)
}

// The ports a TM still uses in buckets it lost go with its ack of the loss
// (the controller hands them to the gainer), and ports another TM sharing
// the SNAT address still uses (the table's held ports) are never handed
// out here, even in buckets this TM gains in the same table.
func TestHeldPortsAcrossAHandover(t *testing.T) {
	f, s, c, p := loseOpenConnectionsPort(t, 200*time.Millisecond)
	f.WaitAck(t, 2) // after LossGrace, the connection still open
	want := []adminapi.InUse{{SNAT: "127.0.0.1", Ports: fmt.Sprint(p)}}
	if got := f.LastInUse(); !reflect.DeepEqual(got, want) {
		t.Fatalf("the ack of the loss says in use %+v, want %+v", got, want)
	}

	// tm1 gains every bucket; tm2 still uses some of its former ports.
	var held []uint16
	for q := 1024; q < 65536 && len(held) < 50; q++ {
		if !isSelfPort(halfTable(), uint16(q)) {
			held = append(held, uint16(q))
		}
	}
	f.PushEvent(adminapi.Event{Version: 3, Kind: adminapi.KindGain, Buckets: allTo("tm1"),
		Held: []adminapi.Held{{TM: "tm2", SNAT: "127.0.0.1", Ports: ports.Ranges(held)},
			{TM: "tm3", SNAT: "10.9.9.9", Ports: "1024-65535"}}}) // another address: not ours to keep
	f.WaitAck(t, 3)
	tab := s.Table()
	for _, q := range held {
		if !tab.IsOwn(q) {
			t.Fatalf("port %d is not tm1's after it gained every bucket", q)
		}
		if tab.Hold(q) {
			t.Fatalf("port %d, which tm2 still uses, was free here", q)
		}
	}
	if tab.Free() < tab.Len()-len(held)-10 {
		t.Fatalf("%d of %d ports free: the other address's held ports were kept too", tab.Free(), tab.Len())
	}
	c.finish("")
}
