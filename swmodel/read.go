package swmodel

import (
	"cmp"
	"slices"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// Read calls fn for every entity matching the (possibly wildcard) entity
// e, as P4Runtime Read does: table ID 0 means every table, a table entry
// with no match means every entry of its table, member ID 0 every member,
// multicast group ID 0 every group, counter ID 0 every counter and no
// index every index. Entities come back in canonical form, in a stable
// order.
func (p *Pipeline) Read(e *p4v1.Entity, fn func(*p4v1.Entity) error) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	switch x := e.GetEntity().(type) {
	case *p4v1.Entity_TableEntry:
		return p.readTable(x.TableEntry, fn)
	case *p4v1.Entity_ActionProfileMember:
		for _, id := range sortedKeys(p.store.members) {
			m := p.store.members[id]
			q := x.ActionProfileMember
			if q.GetActionProfileId() != 0 && q.GetActionProfileId() != m.proto.GetActionProfileId() ||
				q.GetMemberId() != 0 && q.GetMemberId() != id {
				continue
			}
			if err := fn(&p4v1.Entity{Entity: &p4v1.Entity_ActionProfileMember{ActionProfileMember: proto.Clone(m.proto).(*p4v1.ActionProfileMember)}}); err != nil {
				return err
			}
		}
		return nil
	case *p4v1.Entity_PacketReplicationEngineEntry:
		q := x.PacketReplicationEngineEntry.GetMulticastGroupEntry()
		if q == nil {
			return errorf(codes.Unimplemented, "only multicast group entries can be read")
		}
		for _, id := range sortedKeys(p.store.mcast) {
			if q.GetMulticastGroupId() != 0 && q.GetMulticastGroupId() != id {
				continue
			}
			g := proto.Clone(p.store.mcast[id]).(*p4v1.MulticastGroupEntry)
			if err := fn(&p4v1.Entity{Entity: &p4v1.Entity_PacketReplicationEngineEntry{PacketReplicationEngineEntry: &p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: g}}}}); err != nil {
				return err
			}
		}
		return nil
	case *p4v1.Entity_CounterEntry:
		return p.readCounters(x.CounterEntry, fn)
	default:
		return errorf(codes.Unimplemented, "entity %T cannot be read from this pipeline", x)
	}
}

func sortedKeys[V any](m map[uint32]V) []uint32 {
	keys := make([]uint32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (p *Pipeline) readTable(q *p4v1.TableEntry, fn func(*p4v1.Entity) error) error {
	var tableIDs []uint32
	switch {
	case q.GetTableId() == 0:
		tableIDs = sortedKeys(p.schema.Tables)
	case p.schema.Tables[q.GetTableId()] == nil:
		return errorf(codes.InvalidArgument, "unknown table ID %d", q.GetTableId())
	default:
		tableIDs = []uint32{q.GetTableId()}
	}
	var wantKey string
	if len(q.GetMatch()) > 0 {
		_, k, err := p.matchKey(p.schema.Tables[q.GetTableId()], q)
		if err != nil {
			return err
		}
		wantKey = k
	}
	for _, tid := range tableIDs {
		if tid == p.ids.BucketTable.Table {
			if err := p.readBucketEntries(p.schema.Tables[tid], q, fn); err != nil {
				return err
			}
			continue
		}
		entries := p.store.entries[tid]
		keys := make([]string, 0, len(entries))
		for k := range entries {
			if wantKey == "" || k == wantKey {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, cmp.Compare)
		for _, k := range keys {
			te := proto.Clone(entries[k]).(*p4v1.TableEntry)
			if err := fn(&p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: te}}); err != nil {
				return err
			}
		}
	}
	return nil
}

// counterArrays maps the P4Info counter IDs to the model's arrays.
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
	for _, id := range ids {
		arr := p.counterArray(id)
		from, to := 0, arr.size
		if q.GetIndex() != nil {
			i := q.GetIndex().GetIndex()
			if i < 0 || int(i) >= arr.size {
				return errorf(codes.OutOfRange, "counter index %d out of range [0, %d)", i, arr.size)
			}
			from, to = int(i), int(i)+1
		}
		for i := from; i < to; i++ {
			v := arr.read(i)
			ce := &p4v1.CounterEntry{CounterId: id, Index: &p4v1.Index{Index: int64(i)},
				Data: &p4v1.CounterData{PacketCount: int64(v.Packets), ByteCount: int64(v.Bytes)}}
			if err := fn(&p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: ce}}); err != nil {
				return err
			}
		}
	}
	return nil
}
