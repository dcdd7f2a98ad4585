// SPDX-License-Identifier: Apache-2.0

package p4rt

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"sync"
	"time"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"google.golang.org/protobuf/proto"
)

// ReadTimeout bounds one Read when the caller's context allows longer: a
// switch that drips its answer cannot hold a sync (or a scrape, or an
// audit) for ever. It is well above a legitimate full read: bmv2's debug
// build takes about 40 s to be written 1,048,576 entries on a loaded
// machine (docs/performance.md), and a Read is not cut short for being
// slow, only for being endless.
const ReadTimeout = 5 * time.Minute

// readTimeout is ReadTimeout; tests shorten it.
var readTimeout = ReadTimeout

// Bounds on what one Read may bring back, beyond the entity counts the
// P4Info sets (ReadLimits). A switch that answers more is refused.
const (
	// DefaultTableSize is the capacity of a table whose P4Info declares
	// none (bmv2's default).
	DefaultTableSize = 1024
	// MaxMulticastGroups bounds the multicast groups one Read returns;
	// the P4Info declares no size for the packet replication engine, and
	// symdist writes one group (the flood group).
	MaxMulticastGroups = 4096
	// MaxEntityBytes bounds one entity on the wire: a multicast group
	// replicating to every one of 512 ports is about 4 KiB.
	MaxEntityBytes = 16 << 10
	// MaxEmptyResponses bounds the answers without an entity in one Read.
	MaxEmptyResponses = 1024
	// bytesPerEntity and bytesSlack make a Read's byte budget: an entry of
	// symdist's is under 200 bytes on the wire, a full multicast group
	// fits the slack.
	bytesPerEntity = 256
	bytesSlack     = 1 << 20
)

// RefusedError is a Read answer refused because the switch answered more
// than its P4Info allows, the same entity twice, or something not asked
// for. The stream is cancelled and nothing of the answer is returned.
type RefusedError struct {
	Reason string // "too_many", "duplicate", "too_large" or "not_asked": a metric label
	Detail string
}

func (e *RefusedError) Error() string {
	return "the switch " + e.Detail + ": refusing its Read answer"
}

// ReadLimits bound a Read's answer by a P4Info: a wildcard Read of a table
// returns at most its size (and its default entry), of an action profile
// at most its size, of a counter at most its cells; of all tables at most
// the sum.
type ReadLimits struct {
	tables   map[uint32]limit
	profiles map[uint32]limit
	counters map[uint32]limit
	meters   map[uint32]limit
}

type limit struct {
	name string
	n    int
}

// NewReadLimits takes the limits from info.
func NewReadLimits(info *p4configv1.P4Info) *ReadLimits {
	l := &ReadLimits{
		tables: map[uint32]limit{}, profiles: map[uint32]limit{},
		counters: map[uint32]limit{}, meters: map[uint32]limit{},
	}
	size := func(n int64) int {
		if n <= 0 {
			return DefaultTableSize
		}
		return int(n)
	}
	for _, t := range info.GetTables() {
		// +1: a Read may return the default entry too.
		l.tables[t.GetPreamble().GetId()] = limit{"table " + t.GetPreamble().GetName(), size(t.GetSize()) + 1}
	}
	for _, p := range info.GetActionProfiles() {
		l.profiles[p.GetPreamble().GetId()] = limit{"action profile " + p.GetPreamble().GetName(), size(p.GetSize())}
	}
	for _, c := range info.GetCounters() {
		l.counters[c.GetPreamble().GetId()] = limit{"counter " + c.GetPreamble().GetName(), size(c.GetSize())}
	}
	for _, m := range info.GetMeters() {
		l.meters[m.GetPreamble().GetId()] = limit{"meter " + m.GetPreamble().GetName(), size(m.GetSize())}
	}
	return l
}

// SymdistReadLimits are the limits of symdist's own (embedded) P4Info.
var SymdistReadLimits = sync.OnceValue(func() *ReadLimits { return NewReadLimits(p4info.MustLoad().Info) })

// readBudget is what one Read may still bring back: entities per table
// (profile, counter, ...) and bytes in all.
type readBudget struct {
	l      *ReadLimits
	asked  []*p4v1.Entity
	counts map[string]int        // by "kind/id"
	seen   map[[16]byte]struct{} // FNV-128a of each entity's class and key: a million keys in 40 MB, not 150

	bytes int
	max   int // bytes
}

func newReadBudget(l *ReadLimits, asked []*p4v1.Entity) *readBudget {
	b := &readBudget{l: l, asked: asked, counts: map[string]int{}, seen: map[[16]byte]struct{}{}}
	entities := 0
	for _, e := range asked {
		entities += l.most(e)
	}
	b.max = entities*bytesPerEntity + bytesSlack
	return b
}

// most is how many entities a Read of e may return.
func (l *ReadLimits) most(e *p4v1.Entity) int {
	sum := func(m map[uint32]limit, id uint32) int {
		if id != 0 {
			return m[id].n
		}
		n := 0
		for _, x := range m {
			n += x.n
		}
		return n
	}
	switch {
	case e.GetTableEntry() != nil:
		return sum(l.tables, e.GetTableEntry().GetTableId())
	case e.GetActionProfileMember() != nil:
		return sum(l.profiles, e.GetActionProfileMember().GetActionProfileId())
	case e.GetActionProfileGroup() != nil:
		return sum(l.profiles, e.GetActionProfileGroup().GetActionProfileId())
	case e.GetCounterEntry() != nil:
		if e.GetCounterEntry().GetIndex() != nil {
			return 1
		}
		return sum(l.counters, e.GetCounterEntry().GetCounterId())
	case e.GetMeterEntry() != nil:
		if e.GetMeterEntry().GetIndex() != nil {
			return 1
		}
		return sum(l.meters, e.GetMeterEntry().GetMeterId())
	case e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry() != nil:
		if e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry().GetMulticastGroupId() != 0 {
			return 1
		}
		return MaxMulticastGroups
	}
	return 0
}

// class is what limit an answered entity counts against: its kind and
// table (profile, counter, meter) id, its limit, and its key among its
// class; ok is false for an entity no limit covers.
func (l *ReadLimits) class(e *p4v1.Entity) (class string, lim limit, key string, ok bool) {
	id := func(kind string, m map[uint32]limit, id uint32) {
		class = kind + "/" + strconv.FormatUint(uint64(id), 10)
		lim, ok = m[id]
	}
	switch {
	case e.GetTableEntry() != nil:
		te := e.GetTableEntry()
		id("table", l.tables, te.GetTableId())
		if te.GetIsDefaultAction() {
			key = "default"
		} else {
			key = entries.Key(entries.Canonicalize(e))
		}
	case e.GetActionProfileMember() != nil:
		m := e.GetActionProfileMember()
		id("member", l.profiles, m.GetActionProfileId())
		key = strconv.FormatUint(uint64(m.GetMemberId()), 10)
	case e.GetActionProfileGroup() != nil:
		g := e.GetActionProfileGroup()
		id("group", l.profiles, g.GetActionProfileId())
		key = strconv.FormatUint(uint64(g.GetGroupId()), 10)
	case e.GetCounterEntry() != nil:
		c := e.GetCounterEntry()
		id("counter", l.counters, c.GetCounterId())
		key = strconv.FormatInt(c.GetIndex().GetIndex(), 10)
	case e.GetMeterEntry() != nil:
		m := e.GetMeterEntry()
		id("meter", l.meters, m.GetMeterId())
		key = strconv.FormatInt(m.GetIndex().GetIndex(), 10)
	case e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry() != nil:
		class, lim, ok = "multicast", limit{"multicast groups", MaxMulticastGroups}, true
		key = strconv.FormatUint(uint64(e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry().GetMulticastGroupId()), 10)
	}
	return class, lim, key, ok
}

// take counts e against the budget, or refuses it.
func (b *readBudget) take(e *p4v1.Entity) error {
	size := proto.Size(e)
	if size > MaxEntityBytes {
		return &RefusedError{Reason: "too_large", Detail: fmt.Sprintf("answered an entity of %d bytes (at most %d)", size, MaxEntityBytes)}
	}
	b.bytes += size
	if b.bytes > b.max {
		return &RefusedError{Reason: "too_large", Detail: fmt.Sprintf("answered more than %d bytes", b.max)}
	}
	class, lim, key, ok := b.l.class(e)
	if !ok || !asked(b.asked, e) {
		return &RefusedError{Reason: "not_asked", Detail: fmt.Sprintf("answered an entity that was not asked for or that its P4Info lacks (%s)", describe(e))}
	}
	b.counts[class]++
	if b.counts[class] > lim.n {
		return &RefusedError{Reason: "too_many", Detail: fmt.Sprintf("answered more than %d entities for %s", lim.n, lim.name)}
	}
	h := fnv.New128a()
	h.Write([]byte(class))
	h.Write([]byte{'/'})
	h.Write([]byte(key))
	var k [16]byte
	h.Sum(k[:0])
	if _, dup := b.seen[k]; dup {
		return &RefusedError{Reason: "duplicate", Detail: fmt.Sprintf("answered the same entity of %s twice (%s)", lim.name, describe(e))}
	}
	b.seen[k] = struct{}{}
	return nil
}

// asked reports whether e answers one of the (wildcard) entities read.
func asked(read []*p4v1.Entity, e *p4v1.Entity) bool {
	for _, r := range read {
		switch {
		case r.GetTableEntry() != nil && e.GetTableEntry() != nil:
			if id := r.GetTableEntry().GetTableId(); id == 0 || id == e.GetTableEntry().GetTableId() {
				return true
			}
		case r.GetActionProfileMember() != nil && e.GetActionProfileMember() != nil:
			if id := r.GetActionProfileMember().GetActionProfileId(); id == 0 || id == e.GetActionProfileMember().GetActionProfileId() {
				return true
			}
		case r.GetActionProfileGroup() != nil && e.GetActionProfileGroup() != nil:
			if id := r.GetActionProfileGroup().GetActionProfileId(); id == 0 || id == e.GetActionProfileGroup().GetActionProfileId() {
				return true
			}
		case r.GetCounterEntry() != nil && e.GetCounterEntry() != nil:
			if id := r.GetCounterEntry().GetCounterId(); id == 0 || id == e.GetCounterEntry().GetCounterId() {
				return true
			}
		case r.GetMeterEntry() != nil && e.GetMeterEntry() != nil:
			if id := r.GetMeterEntry().GetMeterId(); id == 0 || id == e.GetMeterEntry().GetMeterId() {
				return true
			}
		case r.GetPacketReplicationEngineEntry().GetMulticastGroupEntry() != nil && e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry() != nil:
			if id := r.GetPacketReplicationEngineEntry().GetMulticastGroupEntry().GetMulticastGroupId(); id == 0 || id == e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry().GetMulticastGroupId() {
				return true
			}
		}
	}
	return false
}

// describe names an entity briefly, for an error: its kind and id, never
// its (peer-chosen, maybe huge) contents.
func describe(e *p4v1.Entity) string {
	switch {
	case e.GetTableEntry() != nil:
		return fmt.Sprintf("a table entry of table id %d", e.GetTableEntry().GetTableId())
	case e.GetActionProfileMember() != nil:
		return fmt.Sprintf("member %d of action profile id %d", e.GetActionProfileMember().GetMemberId(), e.GetActionProfileMember().GetActionProfileId())
	case e.GetActionProfileGroup() != nil:
		return fmt.Sprintf("group %d of action profile id %d", e.GetActionProfileGroup().GetGroupId(), e.GetActionProfileGroup().GetActionProfileId())
	case e.GetCounterEntry() != nil:
		return fmt.Sprintf("cell %d of counter id %d", e.GetCounterEntry().GetIndex().GetIndex(), e.GetCounterEntry().GetCounterId())
	case e.GetMeterEntry() != nil:
		return fmt.Sprintf("cell %d of meter id %d", e.GetMeterEntry().GetIndex().GetIndex(), e.GetMeterEntry().GetMeterId())
	case e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry() != nil:
		return fmt.Sprintf("multicast group %d", e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry().GetMulticastGroupId())
	}
	return fmt.Sprintf("an entity of kind %T", e.GetEntity())
}

// ReadEntities returns every entity of device deviceID matching the
// (wildcard) entities: one P4Runtime Read, which needs no election id and
// no stream (so `symdist verify` reads with it without disturbing the
// primary).
//
// The answer is bounded by limits (nil: SymdistReadLimits): past a
// table's size, an entity read twice, an entity not asked for, one over
// MaxEntityBytes or more bytes than the entities allowed, the stream is
// cancelled and the error is a *RefusedError. The Read takes at most
// ReadTimeout. Table entries come back canonical (entries.Canonicalize:
// their keys are compared so).
func ReadEntities(ctx context.Context, client p4v1.P4RuntimeClient, deviceID uint64, limits *ReadLimits, entities ...*p4v1.Entity) ([]*p4v1.Entity, error) {
	if limits == nil {
		limits = SymdistReadLimits()
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel() // also ends a refused stream
	stream, err := client.Read(ctx, &p4v1.ReadRequest{DeviceId: deviceID, Entities: entities})
	if err != nil {
		return nil, err
	}
	b := newReadBudget(limits, entities)
	var out []*p4v1.Entity
	empty := 0
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(resp.GetEntities()) == 0 {
			// An empty answer costs nothing to keep but may come for
			// ever.
			if empty++; empty > MaxEmptyResponses {
				return nil, &RefusedError{Reason: "too_many", Detail: fmt.Sprintf("sent more than %d answers without an entity", MaxEmptyResponses)}
			}
		}
		for _, e := range resp.GetEntities() {
			if err := b.take(e); err != nil {
				return nil, err
			}
		}
		out = append(out, resp.GetEntities()...)
	}
}
