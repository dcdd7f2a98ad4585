// SPDX-License-Identifier: Apache-2.0

package swmodel

//lint:file-ignore SA1019 P4Runtime 1.4 deprecates Replica.egress_port and TableEntry.controller_metadata, but a switch must still serve (and a controller read) the clients that use them

import (
	"bytes"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
)

// bucket_table is stored only as the lookup tree (snapshot.go): each entry
// is one pointer to its tm_members member, which knows its member ID, and
// Read rebuilds the canonical entries from it. At 16 groups of 65,536
// buckets that is a million entries, which as P4Runtime messages would
// cost several hundred bytes each. An entry's metadata and
// controller_metadata (spec 9.1: kept and read back as written), which
// symdist's controller does not use here, are kept beside it in its page,
// only for the entries that have them.

// writeBucketEntry is writeTableEntry for bucket_table.
func (p *Pipeline) writeBucketEntry(op p4v1.Update_Type, t *p4configv1.Table, e *p4v1.TableEntry) error {
	name := t.GetPreamble().GetName()
	group, bucket, err := p.bucketMatch(t, e)
	if err != nil {
		return err
	}
	old := p.bucketMember(group, bucket)
	switch {
	case op == p4v1.Update_INSERT && old != nil:
		return errorf(codes.AlreadyExists, "table %s already has this entry", name)
	case op != p4v1.Update_INSERT && old == nil:
		return errorf(codes.NotFound, "table %s has no such entry", name)
	case op == p4v1.Update_INSERT && int64(p.bucketEntries) >= t.GetSize():
		return errorf(codes.ResourceExhausted, "table %s is full (%d entries)", name, t.GetSize())
	}
	if op == p4v1.Update_DELETE {
		old.refs--
		p.setBucket(group, bucket, nil, nil)
		p.bucketEntries--
		return nil
	}
	a, err := p.tableAction(t, e.GetAction())
	if err != nil {
		return err
	}
	m := p.store.members[a.GetActionProfileMemberId()].m
	m.refs++
	if old != nil {
		old.refs--
	} else {
		p.bucketEntries++
	}
	var meta *bucketEntryMeta
	if len(e.GetMetadata()) > 0 || e.GetControllerMetadata() != 0 {
		meta = &bucketEntryMeta{metadata: bytes.Clone(e.GetMetadata()), controller: e.GetControllerMetadata()}
	}
	p.setBucket(group, bucket, m, meta)
	return nil
}

// bucketMatch validates the match of a bucket_table entry and returns its
// key. The usual entry (group_id and bucket, exact, each value within its
// field) takes a short way; anything else goes through matchKey, for its
// checks and errors.
func (p *Pipeline) bucketMatch(t *p4configv1.Table, e *p4v1.TableEntry) (group uint16, bucket uint64, err error) {
	ids := p.ids.BucketTable
	if ms := e.GetMatch(); len(ms) == 2 && e.GetPriority() == 0 && ms[0].GetFieldId() != ms[1].GetFieldId() {
		ok := true
		for _, m := range ms {
			v := m.GetExact().GetValue()
			var f *p4configv1.MatchField
			for _, mf := range t.GetMatchFields() {
				if mf.GetId() == m.GetFieldId() {
					f = mf
				}
			}
			if f == nil || len(v) == 0 || len(v) > 8 || uintOf(v)>>f.GetBitwidth() != 0 {
				ok = false
				break
			}
			switch m.GetFieldId() {
			case ids.GroupID:
				group = uint16(uintOf(v))
			case ids.Bucket:
				bucket = uintOf(v)
			}
		}
		if ok {
			return group, bucket, nil
		}
	}
	match, _, err := p.matchKey(t, e)
	if err != nil {
		return 0, 0, err
	}
	group, bucket = p.bucketKey(match)
	return group, bucket, nil
}

// bucketKey decodes the canonical match of a bucket_table entry.
func (p *Pipeline) bucketKey(match []*p4v1.FieldMatch) (group uint16, bucket uint64) {
	for _, m := range match {
		switch m.GetFieldId() {
		case p.ids.BucketTable.GroupID:
			group = uint16(uintOf(m.GetExact().GetValue()))
		case p.ids.BucketTable.Bucket:
			bucket = uintOf(m.GetExact().GetValue())
		}
	}
	return group, bucket
}

// bucketMember is the writer's entry for (group, bucket), or nil.
func (p *Pipeline) bucketMember(group uint16, bucket uint64) *member {
	g := p.t.buckets.group(group)
	if g == nil || bucket >= MaxBucketsPerGroup {
		return nil
	}
	return g.member(uint16(bucket))
}

// readBucketEntries calls fn for the entries of bucket_table in tree (a
// published one, which nothing changes: it needs no lock) that tq selects,
// by group_id, then bucket.
func (p *Pipeline) readBucketEntries(tree *bucketTree, tq *tableQuery, fn func(*p4v1.Entity) error) error {
	emit := func(group, bucket uint16, g *groupBuckets) error {
		m := g.member(bucket)
		if m == nil {
			return nil
		}
		e := p.bucketEntity(group, bucket, m, g.metaOf(bucket))
		if !tq.selects(e.GetTableEntry()) {
			return nil
		}
		return fn(e)
	}
	if tq.hasMatch {
		group, bucket := p.bucketKey(tq.canonical)
		if g := tree.group(group); g != nil && bucket < MaxBucketsPerGroup {
			return emit(group, uint16(bucket), g)
		}
		return nil
	}
	for hi, h := range tree.high {
		if h == nil {
			continue
		}
		for lo, g := range h.groups {
			if g == nil {
				continue
			}
			for pi, pg := range g.pages {
				if pg == nil {
					continue
				}
				for i := range pg.members {
					if err := emit(uint16(hi<<8|lo), uint16(pi*bucketPageSize+i), g); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// bucketEntity is the canonical entry of bucket_table for (group, bucket).
func (p *Pipeline) bucketEntity(group, bucket uint16, m *member, meta *bucketEntryMeta) *p4v1.Entity {
	ids := p.ids.BucketTable
	exact := func(id uint32, v uint16) *p4v1.FieldMatch {
		c := []byte{byte(v >> 8), byte(v)}
		if c[0] == 0 {
			c = c[1:]
		}
		return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Exact_{Exact: &p4v1.FieldMatch_Exact{Value: c}}}
	}
	match := []*p4v1.FieldMatch{exact(ids.GroupID, group), exact(ids.Bucket, bucket)}
	if ids.Bucket < ids.GroupID {
		match[0], match[1] = match[1], match[0]
	}
	te := &p4v1.TableEntry{TableId: ids.Table, Match: match,
		Action: &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileMemberId{ActionProfileMemberId: m.id}}}
	if meta != nil {
		te.Metadata, te.ControllerMetadata = bytes.Clone(meta.metadata), meta.controller
	}
	return &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: te}}
}
