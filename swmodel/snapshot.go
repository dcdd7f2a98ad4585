// SPDX-License-Identifier: Apache-2.0

package swmodel

import (
	"maps"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
)

// Forwarding never waits for a writer. Process reads the lookup tables
// through Pipeline.view, an atomic pointer to a copy of them that nothing
// changes once it is published. Write changes p.t, the writer's own copy,
// and publishes it when its batch is done (publish). What p.t shares with
// the published copy is copied before the batch changes it (copy on
// write), so a batch costs the parts it touches, not the whole state:
//
//   - maps and the TM address filter: copied whole at the start of a batch
//     that writes their table (unshare); the filter, after deletes, is
//     rebuilt once at the end of the batch;
//   - the classifier's rule list: copied with its first change in a batch,
//     then changed in place (insertClassifier); its lists by IP version
//     are made anew when the batch is published (splitClassifier);
//   - bucket_table: a tree by group and page of 4,096 buckets, whose nodes
//     are copied one by one as a batch first writes below them (setBucket);
//   - tm_members: a member's action is an atomic pointer, so a MODIFY is
//     seen by every bucket entry and every published copy at once, as on a
//     switch.
//
// A packet thus sees each table as it was before a batch or after it, never
// half of one batch's changes to it, except for member actions (P4Runtime
// promises no batch atomicity at all).

// unshare gives p.t its own copy of every map and slice that the updates
// are about to change and that the published view still shares.
func (p *Pipeline) unshare(updates []*p4v1.Update) {
	ids := p.ids
	for _, u := range updates {
		if u.GetEntity().GetPacketReplicationEngineEntry() != nil && !p.owned.mcast {
			p.t.mcast = maps.Clone(p.t.mcast)
			p.owned.mcast = true
		}
		switch u.GetEntity().GetTableEntry().GetTableId() {
		case 0:
		case ids.TMAddressV4.Table, ids.TMAddressV6.Table:
			if !p.owned.tmAddress {
				p.t.tmAddressV4 = maps.Clone(p.t.tmAddressV4)
				p.t.tmAddressV6 = maps.Clone(p.t.tmAddressV6)
				filter := *p.t.maybeTM
				p.t.maybeTM = &filter
				p.owned.tmAddress = true
			}
		case ids.DefaultTM.Table:
			if !p.owned.defaultTM {
				p.t.defaultTM = maps.Clone(p.t.defaultTM)
				p.owned.defaultTM = true
			}
		case ids.L2Forward.Table:
			if !p.owned.l2 {
				p.t.l2 = maps.Clone(p.t.l2)
				p.owned.l2 = true
			}
		}
	}
}

// owned says which parts of p.t are the writer's alone since the last
// publish. Bucket nodes carry their own mark (their gen).
type owned struct {
	mcast, classifier, tmAddress, defaultTM, l2 bool
	maybeTMStale                                bool // a TM address was deleted
}

// publish makes p.t what Process reads, and marks every part of it shared.
func (p *Pipeline) publish() {
	if p.owned.maybeTMStale {
		p.t.rebuildMaybeTM()
	}
	if p.owned.classifier {
		p.t.splitClassifier()
	}
	v := p.t
	p.view.Store(&v)
	p.owned = owned{}
	p.gen++
}

// bucketPageSize is the number of buckets of one page of a group's table:
// a batch that changes one bucket copies one page.
const bucketPageSize = 4096

// MaxBucketsPerGroup is the largest bucket count of a group the model
// stores: bucket_id_t is bit<16>. A bucket entry past the group's count is
// stored but never hit.
const MaxBucketsPerGroup = 1 << 16

// bucketTree is bucket_table as looked up: by the high and the low byte of
// group_id, then by page and bucket. Every node records the generation
// (publish count) in which it was made: a node of the current generation
// belongs to the writer, an older one may be read by packets in flight.
type bucketTree struct {
	gen  uint64
	high [256]*bucketGroups
}

type bucketGroups struct {
	gen    uint64
	groups [256]*groupBuckets
}

// groupBuckets is one group's part of bucket_table, and its entry of
// bucket_mask (tm_select.p4): mask is B - 1 when hasMask.
type groupBuckets struct {
	gen     uint64
	mask    uint16
	hasMask bool
	pages   [MaxBucketsPerGroup / bucketPageSize]*bucketPage
}

type bucketPage struct {
	gen     uint64
	members [bucketPageSize]*member
	// meta holds the metadata of the page's entries that have some (spec
	// 9.1: kept and read back as written), by index in the page; copied
	// with the page, so a Read of a published tree sees it as it was.
	meta map[uint16]*bucketEntryMeta
}

// bucketEntryMeta is what a bucket_table entry keeps of the controller's
// own: metadata and controller_metadata.
type bucketEntryMeta struct {
	metadata   []byte
	controller uint64
}

// group returns the buckets of group g, or nil when it has none.
func (t *bucketTree) group(g uint16) *groupBuckets {
	if h := t.high[g>>8]; h != nil {
		return h.groups[g&0xff]
	}
	return nil
}

// member returns the member of bucket b, or nil.
func (g *groupBuckets) member(b uint16) *member {
	if pg := g.pages[b/bucketPageSize]; pg != nil {
		return pg.members[b%bucketPageSize]
	}
	return nil
}

// metaOf returns the metadata of bucket b's entry, or nil.
func (g *groupBuckets) metaOf(b uint16) *bucketEntryMeta {
	if pg := g.pages[b/bucketPageSize]; pg != nil {
		return pg.meta[b%bucketPageSize]
	}
	return nil
}

// setBucketMask sets (or with ok false removes) group g's bucket_mask
// entry.
func (p *Pipeline) setBucketMask(g uint16, mask uint16, ok bool) {
	gb := p.ownGroup(g)
	gb.mask, gb.hasMask = mask, ok
}

// setBucket points bucket b of group g at m (nil: no entry), with metadata
// meta (nil: none), copying the nodes on the way that the published view
// may be reading.
func (p *Pipeline) setBucket(g uint16, b uint64, m *member, meta *bucketEntryMeta) {
	if b >= MaxBucketsPerGroup {
		return
	}
	gb := p.ownGroup(g)
	gen := p.gen
	pg := gb.pages[b/bucketPageSize]
	switch {
	case pg == nil:
		pg = &bucketPage{gen: gen}
		gb.pages[b/bucketPageSize] = pg
	case pg.gen != gen:
		pg = &bucketPage{gen: gen, members: pg.members, meta: maps.Clone(pg.meta)}
		gb.pages[b/bucketPageSize] = pg
	}
	i := uint16(b % bucketPageSize)
	pg.members[i] = m
	switch {
	case meta != nil && pg.meta == nil:
		pg.meta = map[uint16]*bucketEntryMeta{i: meta}
	case meta != nil:
		pg.meta[i] = meta
	default:
		delete(pg.meta, i)
	}
}

// ownGroup returns group g's node, made or copied so that the writer owns
// it and the nodes above it.
func (p *Pipeline) ownGroup(g uint16) *groupBuckets {
	gen := p.gen
	t := p.t.buckets
	if t.gen != gen {
		t = &bucketTree{gen: gen, high: t.high}
		p.t.buckets = t
	}
	h := t.high[g>>8]
	switch {
	case h == nil:
		h = &bucketGroups{gen: gen}
		t.high[g>>8] = h
	case h.gen != gen:
		h = &bucketGroups{gen: gen, groups: h.groups}
		t.high[g>>8] = h
	}
	gb := h.groups[g&0xff]
	switch {
	case gb == nil:
		gb = &groupBuckets{gen: gen}
		h.groups[g&0xff] = gb
	case gb.gen != gen:
		c := *gb
		c.gen = gen
		gb = &c
		h.groups[g&0xff] = gb
	}
	return gb
}
