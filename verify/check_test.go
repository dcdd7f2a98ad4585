// SPDX-License-Identifier: Apache-2.0

package verify

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/symdist/symdist/desired"

	"github.com/google/go-cmp/cmp"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
)

// snapshots are what figure 3's switches hold when every TM is up, as
// the controller computes it.
func snapshots(t *testing.T, cfg *config.Config, up map[string]bool) []*Snapshot {
	t.Helper()
	buckets, err := desired.FreshBuckets(cfg, up)
	if err != nil {
		t.Fatal(err)
	}
	var out []*Snapshot
	for _, sw := range cfg.Switches {
		es, err := desired.Expected(cfg, sw.Name, buckets, up)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &Snapshot{Name: sw.Name, Entities: es})
	}
	return out
}

// Each rule broken alone in figure 3's state is reported by its check,
// and by no other.
func TestCheckRules(t *testing.T) {
	cfg, err := config.Load("../examples/figure3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := p4info.MustLoad().Resolve()
	b := entries.Builder{IDs: ids}
	allUp := map[string]bool{"tm1": true, "tm2": true, "tm3": true}
	tmOn := func(name, sw string) entries.TM {
		tm := cfg.TM(name)
		return entries.TM{ID: tm.ID, Port: tm.Ports[sw].Port, MAC: config.ParseMAC(tm.Ports[sw].MAC)}
	}
	// replace swaps the entity with e's key for e (or drops it, e nil).
	replace := func(s *Snapshot, key string, e *p4v1.Entity) {
		i := slices.IndexFunc(s.Entities, func(x *p4v1.Entity) bool { return entries.Key(x) == key })
		if i < 0 {
			t.Fatalf("no entity %s", key)
		}
		if e == nil {
			s.Entities = slices.Delete(s.Entities, i, i+1)
			return
		}
		s.Entities[i] = entries.Canonicalize(e)
	}
	key := func(e *p4v1.Entity) string { return entries.Key(entries.Canonicalize(e)) }
	moveBucket := func(s *Snapshot, bucket uint16, to string) {
		e := b.Bucket(1, bucket, uint32(cfg.TM(to).ID))
		replace(s, key(e), e)
	}
	bucketOf := func(s *Snapshot, owner string) uint16 {
		for _, e := range s.Entities {
			te := e.GetTableEntry()
			if te.GetTableId() == ids.BucketTable.Table && te.GetAction().GetActionProfileMemberId() == uint32(cfg.TM(owner).ID) {
				return uint16(exactOf(te, ids.BucketTable.Bucket))
			}
		}
		t.Fatalf("%s holds no bucket", owner)
		return 0
	}
	rule := entries.Classifier{Priority: 10, IPVersion: 4, Src: mustPrefix("10.0.0.100/32"), Group: 1}
	for _, tt := range []struct {
		name   string
		up     map[string]bool // the TMs known up; nil: presumed
		break_ func(c, s *Snapshot)
		checks []string
	}{
		{"nothing", nil, func(c, s *Snapshot) {}, nil},
		{"port role", nil, func(c, s *Snapshot) {
			e := b.PortRole(2, 1)
			replace(s, key(e), e)
		}, []string{"port_roles"}},
		{"mirror image missing", nil, func(c, s *Snapshot) {
			replace(c, key(b.GroupClassifier(rule)), nil)
		}, []string{"classifier", "classifier_differs", "mirror"}},
		{"default TM", nil, func(c, s *Snapshot) {
			e := b.DefaultTM(1, tmOn("tm2", "client-side"))
			replace(c, key(e), e)
		}, []string{"default_tm"}},
		{"TM MAC", nil, func(c, s *Snapshot) {
			tm := tmOn("tm3", "server-side")
			tm.MAC = config.ParseMAC("02:00:00:00:99:99")
			e := b.Member(3, tm)
			replace(s, key(e), e)
		}, []string{"tm_ports"}},
		{"buckets of a TM down", map[string]bool{"tm1": true, "tm2": true, "tm3": false}, func(c, s *Snapshot) {
			// The controller's view has tm3 down, the switches still
			// hold its buckets: set up by snapshots with every TM up.
		}, []string{"bucket_tm"}},
		{"shares", nil, func(c, s *Snapshot) {
			for _, sn := range []*Snapshot{c, s} {
				for range 3 {
					moveBucket(sn, bucketOf(sn, "tm1"), "tm2")
				}
			}
		}, []string{"share"}},
		{"bucket missing", nil, func(c, s *Snapshot) {
			e := b.Bucket(1, 7, 0)
			replace(c, key(e), nil)
		}, []string{"buckets", "distributors_differ"}},
		{"counters", nil, func(c, s *Snapshot) { c.CounterErr = "unimplemented" }, []string{"counters"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			snaps := snapshots(t, cfg, allUp)
			tt.break_(snaps[0], snaps[1])
			exp := Expect{Config: cfg}
			if tt.up != nil {
				exp.Up, exp.UpSource = tt.up, UpFromController
			}
			r := Check(exp, snaps)
			for _, p := range r.Problems[:min(3, len(r.Problems))] {
				t.Log(p)
			}
			var checks []string
			for _, p := range r.Problems {
				if !slices.Contains(checks, p.Check) {
					checks = append(checks, p.Check)
				}
			}
			slices.Sort(checks)
			if diff := cmp.Diff(tt.checks, checks); diff != "" {
				t.Errorf("checks (-want +got):\n%s\nproblems: %v", diff, r.Problems)
			}
		})
	}
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// A TM without a port on one switch (a config today's checks refuse, as
// an older controller applied it: issue 21 row 1) leaves its buckets
// without an entry on that switch; whatever verify is told, the two
// distributors differ there, and with the controller's table each such
// bucket is also reported on the switch that lacks it.
func TestCheckBucketsMissingOnOneDistributor(t *testing.T) {
	cfg, err := config.Load("../examples/figure3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	delete(cfg.TM("tm3").Ports, "server-side")
	allUp := map[string]bool{"tm1": true, "tm2": true, "tm3": true}
	buckets, err := desired.FreshBuckets(cfg, allUp)
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, o := range buckets["web"] {
		if o == "tm3" {
			lost++
		}
	}
	for _, tt := range []struct {
		name string
		exp  Expect
		want map[string]int // problems by check
	}{
		{"controller", Expect{Config: cfg, Up: allUp, UpSource: UpFromController, Buckets: buckets},
			map[string]int{"distributors_differ": lost, "bucket_owner": lost}},
		{"presumed", Expect{Config: cfg}, map[string]int{"distributors_differ": lost, "buckets": 1}},
		{"no config", Expect{}, map[string]int{"distributors_differ": lost, "buckets": 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.exp, snapshots(t, cfg, allUp))
			got := map[string]int{}
			for _, p := range r.Problems {
				got[p.Check]++
				if p.Check == "bucket_owner" && !slices.Equal(p.Switches, []string{"server-side"}) {
					t.Errorf("bucket_owner on %v, want server-side: %s", p.Switches, p.Message)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems by check (-want +got):\n%s\nfirst: %v", diff, r.Problems[:min(3, len(r.Problems))])
			}
		})
	}
}
