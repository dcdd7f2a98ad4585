package controller

import (
	"maps"
	"slices"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
)

// bucketOwners is bucket_table as the controller plans, writes and
// remembers it: per group_id, the tm_members member (the TM's id) of each
// bucket, 0 where the bucket has no entry. Four bytes a bucket, where a
// P4Runtime entity costs several hundred: at 16 groups of 65,536 buckets
// the controller would otherwise hold a million entities per switch.
// Entities are built only for the buckets a sync writes.
type bucketOwners map[uint16][]uint32

// set records that bucket b of group g goes to member m.
func (o bucketOwners) set(g uint16, b int, m uint32) {
	t := o[g]
	if b >= len(t) {
		t = append(t, make([]uint32, b+1-len(t))...)
		o[g] = t
	}
	t[b] = m
}

// entities returns every bucket entry, canonical, by group and bucket.
func (o bucketOwners) entities(b entries.Builder) []*p4v1.Entity {
	var es []*p4v1.Entity
	for _, g := range slices.Sorted(maps.Keys(o)) {
		for bucket, m := range o[g] {
			if m != 0 {
				es = append(es, entries.Canonicalize(b.Bucket(g, uint16(bucket), m)))
			}
		}
	}
	return es
}

// splitBuckets takes the bucket_table entries out of es (canonical, as
// read from a switch) into bucketOwners. An entry that does not fit (a
// bucket past bit<16>, an action that is not a member) stays in rest,
// where the sync deletes it as an entity it does not want.
func splitBuckets(ids *p4info.IDs, es []*p4v1.Entity) (rest []*p4v1.Entity, owners bucketOwners) {
	owners = bucketOwners{}
	for _, e := range es {
		te := e.GetTableEntry()
		m := te.GetAction().GetActionProfileMemberId()
		if te.GetTableId() != ids.BucketTable.Table || m == 0 {
			rest = append(rest, e)
			continue
		}
		group, bucket := bucketKey(ids, te)
		if group > 0xffff || bucket > 0xffff {
			rest = append(rest, e)
			continue
		}
		owners.set(uint16(group), int(bucket), m)
	}
	return rest, owners
}

// bucketKey returns the group_id and bucket of a bucket_table entry.
func bucketKey(ids *p4info.IDs, te *p4v1.TableEntry) (group, bucket uint64) {
	for _, f := range te.GetMatch() {
		var x uint64
		for _, c := range f.GetExact().GetValue() {
			x = x<<8 | uint64(c)
		}
		switch f.GetFieldId() {
		case ids.BucketTable.GroupID:
			group = x
		case ids.BucketTable.Bucket:
			bucket = x
		}
	}
	return group, bucket
}

// addBucketChanges adds to p the updates that take bucket_table from cur to
// want: inserts and modifies with the other table entries (phase 2),
// deletes with theirs (phase 3).
func (p *plan) addBucketChanges(b entries.Builder, cur, want bucketOwners) {
	groups := slices.Sorted(maps.Keys(cur))
	for g := range want {
		if _, ok := cur[g]; !ok {
			groups = append(groups, g)
		}
	}
	slices.Sort(groups)
	for _, g := range groups {
		cg, wg := cur[g], want[g]
		if sameTable(cg, wg) {
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
				p.phases[2] = append(p.phases[2], entries.Update(p4v1.Update_DELETE, e))
			case c == 0:
				e := entries.Canonicalize(b.Bucket(g, uint16(bucket), w))
				p.phases[1] = append(p.phases[1], entries.Update(p4v1.Update_INSERT, e))
			default:
				e := entries.Canonicalize(b.Bucket(g, uint16(bucket), w))
				p.phases[1] = append(p.phases[1], entries.Update(p4v1.Update_MODIFY, e))
			}
		}
	}
}
