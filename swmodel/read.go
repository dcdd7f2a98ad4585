// SPDX-License-Identifier: Apache-2.0

package swmodel

//lint:file-ignore SA1019 P4Runtime 1.4 deprecates Replica.egress_port and TableEntry.controller_metadata, but a switch must still serve (and a controller read) the clients that use them

import (
	"bytes"
	"cmp"
	"slices"
	"strings"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// readChunk is how many counter cells Read gathers under the pipeline's
// lock before it lets go of it and hands them to its callback.
const readChunk = 256

// Read calls fn for every entity matching the (possibly wildcard) entity
// e, as P4Runtime Read does (spec §9.1.2 and §11): table ID 0 means every
// table, member ID 0 every member, multicast group ID 0 every group,
// counter ID 0 every counter and no index every index; a table entry's
// match, priority, action ID, controller_metadata, metadata and
// is_default_action filter the entries (see tableQuery). Entities come
// back in canonical form, in a stable order.
//
// fn runs without the pipeline's lock, so it may block (on a slow
// client) without holding up writes or packets. Each entity e is read as
// a snapshot all the same: the matching entries are listed under the read
// lock at once, as pointers (a stored entry is never changed in place,
// only replaced), and cloned one at a time as fn takes them, so a Read
// holds a pointer per match and one clone of its own. An error from fn
// ends the Read with that error. Counters are read readChunk cells at a
// time.
func (p *Pipeline) Read(e *p4v1.Entity, fn func(*p4v1.Entity) error) error {
	switch x := e.GetEntity().(type) {
	case *p4v1.Entity_TableEntry:
		return p.readTable(x.TableEntry, fn)
	case *p4v1.Entity_ActionProfileMember:
		q := x.ActionProfileMember
		var picked []*p4v1.ActionProfileMember
		p.mu.RLock()
		for _, id := range sortedKeys(p.store.members) {
			m := p.store.members[id].proto
			if (q.GetActionProfileId() == 0 || q.GetActionProfileId() == m.GetActionProfileId()) &&
				(q.GetMemberId() == 0 || q.GetMemberId() == id) {
				picked = append(picked, m)
			}
		}
		p.mu.RUnlock()
		for _, m := range picked {
			if err := fn(&p4v1.Entity{Entity: &p4v1.Entity_ActionProfileMember{ActionProfileMember: proto.Clone(m).(*p4v1.ActionProfileMember)}}); err != nil {
				return err
			}
		}
		return nil
	case *p4v1.Entity_PacketReplicationEngineEntry:
		q := x.PacketReplicationEngineEntry.GetMulticastGroupEntry()
		if q == nil {
			return errorf(codes.Unimplemented, "only multicast group entries can be read")
		}
		var picked []*p4v1.MulticastGroupEntry
		p.mu.RLock()
		for _, id := range sortedKeys(p.store.mcast) {
			if q.GetMulticastGroupId() == 0 || q.GetMulticastGroupId() == id {
				picked = append(picked, p.store.mcast[id])
			}
		}
		p.mu.RUnlock()
		for _, g := range picked {
			if err := fn(&p4v1.Entity{Entity: &p4v1.Entity_PacketReplicationEngineEntry{PacketReplicationEngineEntry: &p4v1.PacketReplicationEngineEntry{
				Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: proto.Clone(g).(*p4v1.MulticastGroupEntry)}}}}); err != nil {
				return err
			}
		}
		return nil
	case *p4v1.Entity_CounterEntry:
		return p.readCounters(x.CounterEntry, fn)
	case nil:
		return errorf(codes.InvalidArgument, "entity has no type")
	default:
		return errorf(codes.Unimplemented, "entity %T cannot be read from this pipeline", x)
	}
}

// readChunked calls get(i) for i in [0, n) under the read lock, readChunk
// at a time, and fn, without the lock, for each entity get returns.
func (p *Pipeline) readChunked(n int, get func(i int) *p4v1.Entity, fn func(*p4v1.Entity) error) error {
	chunk := make([]*p4v1.Entity, 0, readChunk)
	for i := 0; i < n; {
		chunk = chunk[:0]
		p.mu.RLock()
		for ; i < n && len(chunk) < readChunk; i++ {
			chunk = append(chunk, get(i))
		}
		p.mu.RUnlock()
		for j, x := range chunk {
			chunk[j] = nil // fn may keep it; this Read does not
			if err := fn(x); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[uint32]V) []uint32 {
	keys := make([]uint32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// tableQuery is a table-entry Read request as the filters of spec §11.1
// ("Wildcard Reads") read it. Each field at its default selects all.
type tableQuery struct {
	tableIDs    []uint32
	match       string // matchString of the canonical match, when hasMatch
	canonical   []*p4v1.FieldMatch
	hasMatch    bool
	priority    int32
	actionID    uint32
	ctrlMeta    uint64
	metadata    []byte
	defaultOnly bool
}

// newTableQuery validates q. Table ID 0 selects every table and takes no
// other filter (INVALID_ARGUMENT otherwise). A match must be a valid match
// key of the table and selects the entry with that match (of any priority
// unless one is given). An action filter is a direct action's ID alone: no
// parameters, not on an action-profile table, and one of the table's
// actions. A negative priority is INVALID_ARGUMENT; so is
// is_default_action with a match (the default entry has none).
func (p *Pipeline) newTableQuery(q *p4v1.TableEntry) (*tableQuery, error) {
	tq := &tableQuery{priority: q.GetPriority(), ctrlMeta: q.GetControllerMetadata(), metadata: q.GetMetadata(), defaultOnly: q.GetIsDefaultAction()}
	if q.GetTableId() == 0 {
		if len(q.GetMatch()) > 0 || q.GetAction() != nil || q.GetPriority() != 0 || q.GetControllerMetadata() != 0 ||
			len(q.GetMetadata()) > 0 || q.GetIsDefaultAction() {
			return nil, errorf(codes.InvalidArgument, "a read of every table (table ID 0) takes no other filter")
		}
		tq.tableIDs = sortedKeys(p.schema.Tables)
		return tq, nil
	}
	t := p.schema.Tables[q.GetTableId()]
	if t == nil {
		return nil, errorf(codes.InvalidArgument, "unknown table ID %d", q.GetTableId())
	}
	name := t.GetPreamble().GetName()
	tq.tableIDs = []uint32{q.GetTableId()}
	if q.GetPriority() < 0 {
		return nil, errorf(codes.InvalidArgument, "priority %d: a priority filter is positive (0: any)", q.GetPriority())
	}
	if len(q.GetMatch()) > 0 {
		if q.GetIsDefaultAction() {
			return nil, errorf(codes.InvalidArgument, "table %s: the default entry has no match", name)
		}
		match, err := canonicalMatch(t, q.GetMatch())
		if err != nil {
			return nil, err
		}
		tq.match, tq.canonical, tq.hasMatch = matchString(match), match, true
	}
	if a := q.GetAction(); a != nil {
		da, ok := a.GetType().(*p4v1.TableAction_Action)
		switch {
		case t.GetImplementationId() != 0:
			return nil, errorf(codes.InvalidArgument, "table %s: entries of an action-profile table cannot be filtered by action", name)
		case !ok:
			return nil, errorf(codes.InvalidArgument, "table %s: only a direct action's ID can filter a read", name)
		case len(da.Action.GetParams()) > 0:
			return nil, errorf(codes.InvalidArgument, "table %s: a read cannot filter on action parameters", name)
		case !slices.ContainsFunc(t.GetActionRefs(), func(r *p4configv1.ActionRef) bool { return r.GetId() == da.Action.GetActionId() }):
			return nil, errorf(codes.InvalidArgument, "table %s has no action %d", name, da.Action.GetActionId())
		}
		tq.actionID = da.Action.GetActionId()
	}
	return tq, nil
}

// selects reports whether the stored entry te passes the filters other
// than the table and match.
func (tq *tableQuery) selects(te *p4v1.TableEntry) bool {
	return (tq.priority == 0 || te.GetPriority() == tq.priority) &&
		(tq.actionID == 0 || te.GetAction().GetAction().GetActionId() == tq.actionID) &&
		(tq.ctrlMeta == 0 || te.GetControllerMetadata() == tq.ctrlMeta) &&
		(len(tq.metadata) == 0 || bytes.Equal(te.GetMetadata(), tq.metadata))
}

// defaultEntry is the default entry of table t as Read returns it: every
// table of this program with a direct action has a const default action
// without parameters (NoAction or flood); the action-profile table has
// none, and nil is returned.
func defaultEntry(t *p4configv1.Table) *p4v1.TableEntry {
	id := t.GetConstDefaultActionId()
	if id == 0 {
		return nil
	}
	return &p4v1.TableEntry{TableId: t.GetPreamble().GetId(), IsDefaultAction: true,
		Action: &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: &p4v1.Action{ActionId: id}}}}
}

// pickedEntry is a stored entry a Read selected, with its key for the
// order.
type pickedEntry struct {
	key string
	te  *p4v1.TableEntry
}

func (p *Pipeline) readTable(q *p4v1.TableEntry, fn func(*p4v1.Entity) error) error {
	tq, err := p.newTableQuery(q)
	if err != nil {
		return err
	}
	if tq.defaultOnly {
		d := defaultEntry(p.schema.Tables[tq.tableIDs[0]])
		if d == nil || !tq.selects(d) {
			return nil
		}
		return fn(&p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: d}})
	}
	// One slice per table, each sorted by key after the lock is let go.
	picked := make([][]pickedEntry, len(tq.tableIDs))
	var buckets *bucketTree
	p.mu.RLock()
	for i, tid := range tq.tableIDs {
		if tid == p.ids.BucketTable.Table {
			// bucket_table is kept only as its lookup tree (bucket_table.go),
			// and the published tree is never changed again.
			buckets = p.t.buckets
			continue
		}
		for k, te := range p.store.entries[tid] {
			if (!tq.hasMatch || matchPart(k) == tq.match) && tq.selects(te) {
				picked[i] = append(picked[i], pickedEntry{k, te})
			}
		}
	}
	p.mu.RUnlock()
	for i, table := range picked {
		if tq.tableIDs[i] == p.ids.BucketTable.Table {
			if err := p.readBucketEntries(buckets, tq, fn); err != nil {
				return err
			}
			continue
		}
		slices.SortFunc(table, func(a, b pickedEntry) int { return cmp.Compare(a.key, b.key) })
		for _, x := range table {
			if err := fn(&p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: proto.Clone(x.te).(*p4v1.TableEntry)}}); err != nil {
				return err
			}
		}
	}
	return nil
}

// matchPart is the match part of a stored entry's key (see matchString).
func matchPart(key string) string {
	_, m, _ := strings.Cut(key, ";")
	return m
}

// counterArray maps a P4Info counter ID to the model's array.
func (p *Pipeline) counterArray(id uint32) counterArray {
	switch id {
	case p.ids.TMCounter:
		return p.c.tmCounter()
	case p.ids.SteerReasonCounter:
		return p.c.steerReasonCounter()
	case p.ids.DropCounter:
		return p.c.dropCounter()
	}
	return counterArray{}
}

// readCounters reads counter cells (spec §9.3.2 and §11.1): counter ID 0
// is every counter, no index every cell. An index with counter ID 0 reads
// that cell of every counter that has it (a counter with fewer cells has
// nothing to return, which is not an error). A negative index is
// INVALID_ARGUMENT; an index past the one counter asked for, OUT_OF_RANGE.
func (p *Pipeline) readCounters(q *p4v1.CounterEntry, fn func(*p4v1.Entity) error) error {
	var ids []uint32
	if q.GetCounterId() == 0 {
		ids = sortedKeys(p.schema.Counters)
	} else {
		if p.counterArray(q.GetCounterId()).size == 0 {
			return errorf(codes.InvalidArgument, "unknown counter ID %d", q.GetCounterId())
		}
		ids = []uint32{q.GetCounterId()}
	}
	index := q.GetIndex().GetIndex()
	if q.GetIndex() != nil && index < 0 {
		return errorf(codes.InvalidArgument, "counter index %d is negative", index)
	}
	type cell struct {
		id    uint32
		index int
	}
	var cells []cell
	for _, id := range ids {
		n := p.counterArray(id).size
		switch {
		case q.GetIndex() == nil:
			for i := range n {
				cells = append(cells, cell{id, i})
			}
		case index < int64(n):
			cells = append(cells, cell{id, int(index)})
		case q.GetCounterId() != 0:
			return errorf(codes.OutOfRange, "counter index %d out of range [0, %d)", index, n)
		}
	}
	return p.readChunked(len(cells), func(i int) *p4v1.Entity {
		c := cells[i]
		v := p.counterArray(c.id).read(c.index)
		return &p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{CounterId: c.id, Index: &p4v1.Index{Index: int64(c.index)},
			Data: &p4v1.CounterData{PacketCount: int64(v.Packets), ByteCount: int64(v.Bytes)}}}}
	}, fn)
}
