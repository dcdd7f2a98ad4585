// SPDX-License-Identifier: Apache-2.0

package desired

import (
	"maps"
	"slices"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
)

// BucketOwners is bucket_table as the controller plans, writes and
// remembers it: per group_id, the tm_members member (the TM's id) of each
// bucket, 0 where the bucket has no entry. Four bytes a bucket, where a
// P4Runtime entity costs several hundred: at 16 groups of 65,536 buckets
// the controller would otherwise hold a million entities per switch.
// Entities are built only for the buckets a sync writes.
type BucketOwners map[uint16][]uint32

// set records that bucket b of group g goes to member m.
func (o BucketOwners) Set(g uint16, b int, m uint32) {
	t := o[g]
	if b >= len(t) {
		t = append(t, make([]uint32, b+1-len(t))...)
		o[g] = t
	}
	t[b] = m
}

// Count is the number of bucket entries (buckets with an owner).
func (o BucketOwners) Count() int {
	n := 0
	for _, t := range o {
		for _, m := range t {
			if m != 0 {
				n++
			}
		}
	}
	return n
}

// entities returns every bucket entry, canonical, by group and bucket.
func (o BucketOwners) Entities(b entries.Builder) []*p4v1.Entity {
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

// SplitBuckets takes the bucket_table entries out of es (canonical, as
// read from a switch) into BucketOwners. An entry that does not fit (a
// bucket past bit<16>, an action that is not a member) stays in rest,
// where the sync deletes it as an entity it does not want.
func SplitBuckets(ids *p4info.IDs, es []*p4v1.Entity) (rest []*p4v1.Entity, owners BucketOwners) {
	owners = BucketOwners{}
	for _, e := range es {
		te := e.GetTableEntry()
		m := te.GetAction().GetActionProfileMemberId()
		if te.GetTableId() != ids.BucketTable.Table || m == 0 {
			rest = append(rest, e)
			continue
		}
		group, bucket := BucketKey(ids, te)
		if group > 0xffff || bucket > 0xffff {
			rest = append(rest, e)
			continue
		}
		owners.Set(uint16(group), int(bucket), m)
	}
	return rest, owners
}

// BucketKey returns the group_id and bucket of a bucket_table entry.
func BucketKey(ids *p4info.IDs, te *p4v1.TableEntry) (group, bucket uint64) {
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

// SameTable reports whether a and b are the same slice (then, tables
// being never written, equal). Both are held by the caller, so the array
// cannot have been freed and reused.
func SameTable[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// OwnersCache is, for one switch, the bucket owners its last sync built per
// group and the table each was built from, so that the next sync rebuilds
// only the groups whose table changed. Only the switch's own loop uses it.
type OwnersCache struct {
	cfg    *config.Config // the members depend on the config
	groups map[uint16]cachedOwners
}

type cachedOwners struct {
	from   []string // the group's table
	owners []uint32 // built from it; never written after
}

// groupOwners returns the member per bucket of table on this switch (nil
// when no bucket has one), reusing the owners built before from the same
// table under the same config.
func (oc *OwnersCache) groupOwners(cfg *config.Config, id uint16, table []string, members map[string]uint32) []uint32 {
	if oc != nil && oc.cfg == cfg {
		if co, ok := oc.groups[id]; ok && SameTable(co.from, table) {
			return co.owners
		}
	}
	var owners []uint32
	last := -1
	for b, owner := range table {
		if m := members[owner]; m != 0 {
			if owners == nil {
				owners = make([]uint32, len(table))
			}
			owners[b] = m
			last = b
		}
	}
	if last >= 0 {
		owners = owners[:last+1] // as BucketOwners.set leaves it
	}
	if oc != nil {
		if oc.cfg != cfg || oc.groups == nil {
			oc.cfg, oc.groups = cfg, map[uint16]cachedOwners{}
		}
		oc.groups[id] = cachedOwners{from: table, owners: owners}
	}
	return owners
}
