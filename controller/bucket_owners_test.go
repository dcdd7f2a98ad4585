// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/symdist/symdist/desired"

	"github.com/google/go-cmp/cmp"
	"github.com/symdist/symdist/entries"
)

// Owners written as entities and read back split are the same owners, and
// entries that are not buckets stay apart.
func TestSplitBucketsRoundTrip(t *testing.T) {
	b := builder(t)
	owners := desired.BucketOwners{}
	owners.Set(1, 0, 7)
	owners.Set(1, 65535, 8)
	owners.Set(3, 5, 9)
	role := entries.Canonicalize(b.PortRole(1, 1))
	rest, got := desired.SplitBuckets(b.IDs, append(owners.Entities(b), role))
	if diff := cmp.Diff(owners, got); diff != "" {
		t.Errorf("owners (-want +got):\n%s", diff)
	}
	if len(rest) != 1 || entries.Key(rest[0]) != entries.Key(role) {
		t.Errorf("rest = %v, want the port_role entry alone", rest)
	}
}

// The bucket plan is the one the entity diff makes of the same states:
// random tables of random sizes (groups appearing and going, B growing and
// shrinking, buckets without entries), every update in the same phase.
func TestBucketChangesMatchEntityDiff(t *testing.T) {
	b := builder(t)
	r := rand.New(rand.NewPCG(3, 4))
	random := func() desired.BucketOwners {
		o := desired.BucketOwners{}
		for g := uint16(1); g <= 3; g++ {
			if r.IntN(4) == 0 {
				continue
			}
			n := 1 << r.IntN(6)
			for bucket := range n {
				if m := uint32(r.IntN(4)); m != 0 {
					o.Set(g, bucket, m)
				}
			}
		}
		return o
	}
	summary := func(p *plan) (out [4][]string) {
		for i, ph := range p.phases {
			for _, u := range ph {
				out[i] = append(out[i], u.GetType().String()+" "+entries.Key(u.GetEntity())+" "+entries.Value(u.GetEntity()))
			}
			slices.Sort(out[i])
		}
		return out
	}
	for range 200 {
		cur, want := random(), random()
		byEntities := diff(cur.Entities(b), want.Entities(b))
		byOwners := &plan{}
		byOwners.addBucketChanges(b, cur, want)
		if d := cmp.Diff(summary(byEntities), summary(byOwners)); d != "" {
			t.Fatalf("plans differ (-entities +owners):\n%s", d)
		}
	}
	p := &plan{}
	p.addBucketChanges(b, desired.BucketOwners{1: {1, 2}}, desired.BucketOwners{1: {1, 2, 0}})
	if !p.empty() {
		t.Errorf("a trailing bucket without entry changes nothing, yet %d updates", p.size())
	}
}
