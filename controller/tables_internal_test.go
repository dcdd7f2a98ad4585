// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/symdist/symdist/desired"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
	"google.golang.org/protobuf/testing/protocmp"
)

// tablesConfig is groups g1-g3 of 64 buckets, 3 TMs each (health none),
// on two switches; the controller reaches no switch.
func tablesConfig(t *testing.T) *config.Config {
	t.Helper()
	var s strings.Builder
	s.WriteString("buckets: 64\nswitches:\n")
	for i, name := range []string{"sa", "sb"} {
		fmt.Fprintf(&s, "  - name: %s\n    address: 127.0.0.1:1\n    device_id: %d\n    ports:\n      - {port: 1, role: edge}\n", name, i+1)
		for p := 2; p <= 4; p++ {
			fmt.Fprintf(&s, "      - {port: %d, role: tm}\n", p)
		}
	}
	s.WriteString("groups:\n")
	for g := 1; g <= 3; g++ {
		fmt.Fprintf(&s, "  - {name: g%d, id: %d, default_tm: t%d-1, rules: [{priority: 10, vlan: %d}]}\n", g, g, g, g)
	}
	s.WriteString("tms:\n")
	id := 1
	for g := 1; g <= 3; g++ {
		for k := 1; k <= 3; k++ {
			fmt.Fprintf(&s, "  - {name: t%d-%d, id: %d, group: g%d, ports: {sa: {port: %d, mac: \"02:00:00:00:01:%02x\"}, sb: {port: %d, mac: \"02:00:00:00:02:%02x\"}}}\n",
				g, k, id, g, k+1, id, k+1, id)
			id++
		}
	}
	cfg, err := config.Parse("tables.yaml", []byte(s.String()))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func deepCopy(m map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// A TM event makes a new table for its own group only: the views and
// snapshots taken before it keep what they held (tables are never written
// once set), and the other groups' tables are the same slices, not copies
// (an event at a million entries must not copy the tier).
func TestEventCopiesOnlyItsGroup(t *testing.T) {
	c, err := New(tablesConfig(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ensureTables(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bumpLocked()
	before := c.viewLocked()
	snap := c.ho.snaps[len(c.ho.snaps)-1]
	beforeCopy, snapCopy := deepCopy(before.Buckets), deepCopy(snap.tables)

	c.drained["t2-1"] = true
	c.reassignLocked("g2")
	after := c.viewLocked()

	if diff := cmp.Diff(beforeCopy, before.Buckets); diff != "" {
		t.Errorf("a desired.View taken before the event changed (-then +now):\n%s", diff)
	}
	if diff := cmp.Diff(snapCopy, snap.tables); diff != "" {
		t.Errorf("the snapshot of the generation before changed (-then +now):\n%s", diff)
	}
	if slices.Contains(after.Buckets["g2"], "t2-1") {
		t.Errorf("g2 still gives buckets to the drained t2-1: %v", after.Buckets["g2"])
	}
	if desired.SameTable(before.Buckets["g2"], after.Buckets["g2"]) {
		t.Error("g2's table was changed in place")
	}
	for _, g := range []string{"g1", "g3"} {
		if !desired.SameTable(before.Buckets[g], after.Buckets[g]) {
			t.Errorf("%s's table was copied for an event in g2", g)
		}
	}
	// No bucket pending: the switch table is the target, one slice.
	for name, g := range c.ho.groups {
		if !desired.SameTable(g.switchTable, c.tables[name].Buckets) {
			t.Errorf("%s: the switch table is a copy of the target", name)
		}
	}
}

// The bucket owners a sync builds with the cache are those built without
// it, and after a change in one group the plan from the last sync's owners
// writes exactly that group's moved buckets.
func TestOwnersCache(t *testing.T) {
	cfg := tablesConfig(t)
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ensureTables(context.Background()); err != nil {
		t.Fatal(err)
	}
	sw := cfg.Switch("sb")
	var cache desired.OwnersCache
	c.mu.Lock()
	v1 := c.viewLocked()
	c.mu.Unlock()
	_, held := desired.State(cfg, c.builder, sw, v1, &cache)

	c.mu.Lock()
	c.drained["t3-2"] = true
	c.reassignLocked("g3")
	v2 := c.viewLocked()
	c.mu.Unlock()
	_, cached := desired.State(cfg, c.builder, sw, v2, &cache)
	_, fresh := desired.State(cfg, c.builder, sw, v2, nil)

	if diff := cmp.Diff(fresh, cached, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("owners with the cache differ from those built afresh (-fresh +cached):\n%s", diff)
	}
	for _, id := range []uint16{1, 2} {
		if !desired.SameTable(held[id], cached[id]) {
			t.Errorf("group %d: owners built again for an unchanged table", id)
		}
	}

	var cachedPlan, freshPlan plan
	cachedPlan.addBucketChanges(c.builder, held, cached)
	freshPlan.addBucketChanges(c.builder, maps.Clone(held), fresh)
	var moved int
	for b, owner := range v1.Buckets["g3"] {
		if owner != v2.Buckets["g3"][b] {
			moved++
		}
	}
	if got := cachedPlan.size(); got != moved || moved == 0 {
		t.Errorf("plan writes %d updates; %d buckets of g3 moved", got, moved)
	}
	if diff := cmp.Diff(freshPlan.phases, cachedPlan.phases, protocmp.Transform(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("plans differ (-fresh +cached):\n%s", diff)
	}
	for _, ph := range cachedPlan.phases {
		for _, u := range ph {
			if u.GetType() != p4v1.Update_MODIFY {
				t.Errorf("update %v, want MODIFY", u.GetType())
			}
		}
	}
}
