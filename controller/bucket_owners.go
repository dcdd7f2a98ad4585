// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"maps"
	"slices"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/desired"
	"github.com/symdist/symdist/entries"
)

// addBucketChanges adds to p the updates that take bucket_table from cur to
// want: inserts and modifies with the other table entries (addEntries),
// deletes with theirs (dropEntries).
func (p *plan) addBucketChanges(b entries.Builder, cur, want desired.BucketOwners) {
	groups := slices.Sorted(maps.Keys(cur))
	for g := range want {
		if _, ok := cur[g]; !ok {
			groups = append(groups, g)
		}
	}
	slices.Sort(groups)
	for _, g := range groups {
		cg, wg := cur[g], want[g]
		if desired.SameTable(cg, wg) {
			continue // built from the same table: a group the change left alone
		}
		n := max(len(cg), len(wg))
		for bucket := range n {
			var c, w uint32
			if bucket < len(cg) {
				c = cg[bucket]
			}
			if bucket < len(wg) {
				w = wg[bucket]
			}
			switch {
			case c == w:
			case w == 0:
				e := entries.Canonicalize(b.Bucket(g, uint16(bucket), c))
				p.phases[dropEntries] = append(p.phases[dropEntries], entries.Update(p4v1.Update_DELETE, e))
			case c == 0:
				e := entries.Canonicalize(b.Bucket(g, uint16(bucket), w))
				p.phases[addEntries] = append(p.phases[addEntries], entries.Update(p4v1.Update_INSERT, e))
			default:
				e := entries.Canonicalize(b.Bucket(g, uint16(bucket), w))
				p.phases[addEntries] = append(p.phases[addEntries], entries.Update(p4v1.Update_MODIFY, e))
			}
		}
	}
}
