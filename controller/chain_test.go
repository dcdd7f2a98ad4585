// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/controller"
	"github.com/symdist/symdist/test/testbed"
)

// chainsFrom is the buckets of ev's chains whose previous owner is tm.
func chainsFrom(ev []adminapi.Chain, tm string) map[int]bool {
	out := map[int]bool{}
	for _, c := range ev {
		if c.Previous == tm {
			out[c.Bucket] = true
		}
	}
	return out
}

// A planned move publishes its chains with the loss, before the switches
// move: every bucket tm1 loses to a drain names tm1 as its previous owner,
// in the watch and in GET /api/groups/{group}/buckets, with the TMs' MACs;
// a watch started after the move gets them too; and when tm1 fails, its
// chains are gone (nothing is chained to a TM that is down).
func TestChainsFollowPlannedMoves(t *testing.T) {
	h := newHandoverLab(t, time.Minute, true)
	s1, init1 := h.watch(t, "tm1", "")
	if len(init1.Chains) != 0 {
		t.Fatalf("chains before any move: %v", init1.Chains)
	}
	if len(init1.Peers) != 3 || len(init1.Peers[0].MACs) != 2 {
		t.Fatalf("peers: %+v, want 3 TMs with a MAC on each of 2 switches", init1.Peers)
	}
	h.drain(t, "tm1", true)
	loss := next(t, s1)
	had := count(init1.Buckets, "tm1")
	got := chainsFrom(loss.Chains, "tm1")
	if loss.Kind != adminapi.KindLoss || len(got) != had {
		t.Fatalf("drain: %q event with %d chains from tm1, want a loss with %d", loss.Kind, len(got), had)
	}
	for b := range got {
		if init1.Buckets[b] != "tm1" {
			t.Fatalf("bucket %d chains to tm1, which did not own it", b)
		}
	}
	for _, c := range loss.Chains {
		if c.LeftMS <= 0 || c.LeftMS > (10*time.Minute).Milliseconds() {
			t.Fatalf("chain %+v: left_ms outside the default window", c)
		}
	}
	ack(t, s1, loss.Version)
	testbed.Eventually(t, "tm1 drained", 10*time.Second, func() bool { return h.both(t, func(c map[uint32]int) bool { return c[1] == 0 }) })

	_, late := h.watch(t, "tm2", "")
	if n := len(chainsFrom(late.Chains, "tm1")); n != had {
		t.Errorf("a watch started after the drain: %d chains from tm1, want %d", n, had)
	}
	bt, err := h.api.Buckets(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(chainsFrom(bt.Chains, "tm1")); n != had || len(bt.Peers) != 3 {
		t.Errorf("GET buckets: %d chains from tm1 and %d peers, want %d and 3", n, len(bt.Peers), had)
	}

	h.health[0].ln.Close() // tm1 fails: its connections are gone with it
	testbed.Eventually(t, "tm1's chains withdrawn", 10*time.Second, func() bool {
		bt, err := h.api.Buckets(context.Background(), "web")
		return err == nil && len(chainsFrom(bt.Chains, "tm1")) == 0
	})
}

// chain_window 0: no chains, ever.
// chainWindow sets the config's chain_window.
func chainWindow(d time.Duration) func(*config.Config) {
	return func(c *config.Config) { c.ChainWindow = &d }
}

func TestChainWindowZero(t *testing.T) {
	h := newHandoverLab(t, time.Minute, false, chainWindow(0))
	s1, _ := h.watch(t, "tm1", "")
	h.drain(t, "tm1", true)
	loss := next(t, s1)
	if loss.Kind != adminapi.KindLoss || len(loss.Chains) != 0 {
		t.Fatalf("chain_window 0: a %q event with %d chains, want a loss with none", loss.Kind, len(loss.Chains))
	}
	ack(t, s1, loss.Version)
	testbed.Eventually(t, "tm1 drained", 10*time.Second, func() bool { return h.both(t, func(c map[uint32]int) bool { return c[1] == 0 }) })
	if bt, err := h.api.Buckets(context.Background(), "web"); err != nil || len(bt.Chains) != 0 {
		t.Errorf("chain_window 0, after the drain: %v chains (%v)", len(bt.Chains), err)
	}
}

// A TM's report shows in the status while it is recent; a report for a TM
// the config lacks, or with a negative count, is refused.
func TestTMReports(t *testing.T) {
	h := newHandoverLab(t, time.Minute, false)
	ctx := context.Background()
	connections := func(tm string) *int64 {
		for _, g := range h.c.Status().Groups {
			for _, s := range g.TMs {
				if s.Name == tm {
					return s.Connections
				}
			}
		}
		t.Fatalf("no %s in the status", tm)
		return nil
	}
	if c := connections("tm1"); c != nil {
		t.Fatalf("connections before any report: %d", *c)
	}
	if err := h.api.Report(ctx, "tm1", adminapi.Report{Connections: 7}); err != nil {
		t.Fatal(err)
	}
	if c := connections("tm1"); c == nil || *c != 7 {
		t.Fatalf("after a report of 7: %v", c)
	}
	var he *adminapi.HTTPError
	if err := h.api.Report(ctx, "tm9", adminapi.Report{Connections: 1}); !errors.As(err, &he) || he.Code != 404 {
		t.Errorf("a report for tm9: %v, want 404", err)
	}
	if err := h.api.Report(ctx, "tm1", adminapi.Report{Connections: -1}); !errors.As(err, &he) || he.Code != 400 {
		t.Errorf("a negative report: %v, want 400", err)
	}
}

// A drained TM that still reports open connections keeps its chains past
// chain_window; once it reports none, they end.
func TestDrainedChainsLastWhileConnectionsDo(t *testing.T) {
	window := 300 * time.Millisecond
	h := newHandoverLab(t, time.Minute, false, chainWindow(window))
	ctx := context.Background()
	fromTM1 := func() int {
		bt, err := h.api.Buckets(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		return len(chainsFrom(bt.Chains, "tm1"))
	}
	if err := h.api.Report(ctx, "tm1", adminapi.Report{Connections: 3}); err != nil {
		t.Fatal(err)
	}
	h.drain(t, "tm1", true)
	testbed.Eventually(t, "tm1 drained", 10*time.Second, func() bool { return h.both(t, func(c map[uint32]int) bool { return c[1] == 0 }) })
	time.Sleep(2 * window)
	if n := fromTM1(); n == 0 {
		t.Fatal("a drained TM with open connections lost its chains at the end of chain_window")
	}
	if err := h.api.Report(ctx, "tm1", adminapi.Report{Connections: 0}); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, "tm1's chains ending with its last connection", 10*time.Second, func() bool { return fromTM1() == 0 })
}

// config plan warns when a config removes a TM that still reports open
// connections.
func TestPlanWarnsOfOpenConnections(t *testing.T) {
	h := newHandoverLab(t, time.Minute, false)
	ctx := context.Background()
	without3 := []byte(h.lab.yaml(10, "", tmSpec{1, 1, "none"}, tmSpec{2, 1, "none"}))
	p, err := h.c.PlanConfig("next.yaml", without3)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 0 {
		t.Fatalf("warnings before tm3 reported anything: %q", p.Warnings)
	}
	if err := h.api.Report(ctx, "tm3", adminapi.Report{Connections: 4}); err != nil {
		t.Fatal(err)
	}
	if p, err = h.api.PlanConfig(ctx, "next.yaml", without3); err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "tm3 is removed with 4 connections open") {
		t.Errorf("warnings = %q, want one about tm3's 4 connections", p.Warnings)
	}
}

// snatAll gives every TM of the config the SNAT addresses addrs.
func snatAll(addrs ...string) func(*config.Config) {
	return func(c *config.Config) {
		for i := range c.TMs {
			c.TMs[i].SNAT = slices.Clone(addrs)
		}
	}
}

// The ports a TM still uses in buckets it lost, which it says in its ack of
// the loss, reach the TMs that share its SNAT address in the gain's table
// event (and GET buckets), so that the gainer never hands one out: from
// the shared address and port to the same server, its connection would
// reset the loser's. Reports keep them current; bad ones are refused.
func TestHeldPortsReachTheGainer(t *testing.T) {
	h := newHandoverLab(t, time.Minute, false, snatAll("10.3.0.1"))
	ctx := context.Background()
	s1, _ := h.watch(t, "tm1", "")
	s2, _ := h.watch(t, "tm2", "")
	s3, _ := h.watch(t, "tm3", "")
	h.drain(t, "tm1", true)
	loss := next(t, s1)
	if loss.Kind != adminapi.KindLoss {
		t.Fatalf("drain: a %q event, want a loss", loss.Kind)
	}
	inUse := []adminapi.InUse{{SNAT: "10.3.0.1", Ports: "8194,9000-9002"}}
	for _, s := range []*adminapi.Stream{s2, s3} {
		ev := next(t, s)
		if len(ev.Held) != 0 {
			t.Fatalf("held ports before tm1 acknowledged its loss: %+v", ev.Held)
		}
		ack(t, s, ev.Version)
	}
	if err := s1.AckInUse(ctx, loss.Version, inUse); err != nil {
		t.Fatal(err)
	}
	want := []adminapi.Held{{TM: "tm1", SNAT: "10.3.0.1", Ports: "8194,9000-9002"}}
	gain := next(t, s2)
	if gain.Kind != adminapi.KindGain || !reflect.DeepEqual(gain.Held, want) {
		t.Fatalf("the gain after tm1's ack: a %q event holding %+v, want a gain holding %+v", gain.Kind, gain.Held, want)
	}
	if bt, err := h.api.Buckets(ctx, "web"); err != nil || !reflect.DeepEqual(bt.Held, want) {
		t.Fatalf("GET buckets holds %+v (%v), want %+v", bt.Held, err, want)
	}
	// Its connections end: the next report says so.
	if err := h.api.Report(ctx, "tm1", adminapi.Report{}); err != nil {
		t.Fatal(err)
	}
	if bt, err := h.api.Buckets(ctx, "web"); err != nil || len(bt.Held) != 0 {
		t.Fatalf("after a report with none in use, GET buckets holds %+v (%v)", bt.Held, err)
	}
	for _, bad := range []adminapi.InUse{
		{SNAT: "10.3.0.2", Ports: "80"},  // not tm1's address
		{SNAT: "10.3.0.1", Ports: "0"},   // not a port
		{SNAT: "10.3.0.1", Ports: "9-8"}, // descending
		{SNAT: "nonsense", Ports: "80"},
	} {
		err := h.api.Report(ctx, "tm1", adminapi.Report{InUse: []adminapi.InUse{bad}})
		var he *adminapi.HTTPError
		if !errors.As(err, &he) || he.Code != 400 {
			t.Errorf("report with in_use %+v: %v, want 400", bad, err)
		}
	}
}

// A TM with two subscribers (symdist chain, which knows its connections,
// and symdist ports --watch, which does not): the one's in_use survives
// the other's ack without any, whichever comes last, reaches the gainer,
// outlives its stream, and a report replaces it.
func TestHeldPortsOfTwoSubscribers(t *testing.T) {
	h := newHandoverLab(t, time.Minute, false, snatAll("10.3.0.1", "10.3.0.2"))
	ctx := context.Background()
	chain, _ := h.watch(t, "tm1", "")
	portsWatch, _ := h.watch(t, "tm1", "")
	s2, _ := h.watch(t, "tm2", "")
	h.drain(t, "tm1", true)
	loss := next(t, chain)
	next(t, portsWatch)
	ack(t, s2, next(t, s2).Version)
	if err := h.api.Report(ctx, "tm1", adminapi.Report{Connections: 1, InUse: []adminapi.InUse{{SNAT: "10.3.0.2", Ports: "7000"}}}); err != nil {
		t.Fatal(err)
	}
	if err := chain.AckInUse(ctx, loss.Version, []adminapi.InUse{{SNAT: "10.3.0.1", Ports: "8194,9000-9002"}, {SNAT: "10.3.0.2", Ports: "7001"}}); err != nil {
		t.Fatal(err)
	}
	ack(t, portsWatch, loss.Version) // last, with none
	want := []adminapi.Held{{TM: "tm1", SNAT: "10.3.0.1", Ports: "8194,9000-9002"}, {TM: "tm1", SNAT: "10.3.0.2", Ports: "7000-7001"}}
	gain := next(t, s2)
	if gain.Kind != adminapi.KindGain || !reflect.DeepEqual(gain.Held, want) {
		t.Fatalf("the gain: a %q event holding %+v, want a gain holding %+v", gain.Kind, gain.Held, want)
	}
	held := func() []adminapi.Held {
		bt, err := h.api.Buckets(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		return bt.Held
	}
	chain.Close()
	testbed.Eventually(t, "the controller sees the stream end", 5*time.Second, func() bool { return controller.SubscribersOf(h.c, "tm1") == 1 })
	if got := held(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the subscriber's stream ended, held %+v, want %+v still", got, want)
	}
	if err := h.api.Report(ctx, "tm1", adminapi.Report{Connections: 1, InUse: []adminapi.InUse{{SNAT: "10.3.0.1", Ports: "9001"}}}); err != nil {
		t.Fatal(err)
	}
	if got, want := held(), []adminapi.Held{{TM: "tm1", SNAT: "10.3.0.1", Ports: "9001"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after a report, held %+v, want %+v", got, want)
	}
}
