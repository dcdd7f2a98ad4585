// SPDX-License-Identifier: Apache-2.0

package p4rtserver_test

//lint:file-ignore SA1019 P4Runtime 1.4 deprecates Replica.egress_port and TableEntry.controller_metadata, but a switch must still serve (and a controller read) the clients that use them

import (
	"net"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/vectors"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func tableQuery(te *p4v1.TableEntry) *p4v1.Entity {
	return &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: te}}
}

func directAction(id uint32, params ...*p4v1.Action_Param) *p4v1.TableAction {
	return &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: &p4v1.Action{ActionId: id, Params: params}}}
}

// Table-entry reads filter as spec §11.1 ("Wildcard Reads") says: by
// match, priority, action ID, controller_metadata, metadata and
// is_default_action; table ID 0 takes no filter. The wanted entities are
// the fixture's, picked by the same rule.
func TestReadTableFilters(t *testing.T) {
	h, _ := ready(t)
	ids := h.ids
	b := entries.Builder{IDs: ids}
	// One entry with controller metadata, the fixture has none.
	tagged := b.L2Forward(net.HardwareAddr{2, 0, 0, 0, 0, 0x42}, vectors.PortServer)
	tagged.GetTableEntry().ControllerMetadata = 42
	tagged.GetTableEntry().Metadata = []byte("tagged")
	if err := h.write(eid(1), entries.Update(p4v1.Update_INSERT, tagged)); err != nil {
		t.Fatal(err)
	}
	var stored []*p4v1.Entity
	for _, u := range vectors.State(ids) {
		stored = append(stored, canonicalEntity(u.GetEntity()))
	}
	stored = append(stored, canonicalEntity(tagged))
	pick := func(keep func(te *p4v1.TableEntry) bool) []*p4v1.Entity {
		var out []*p4v1.Entity
		for _, e := range stored {
			if te := e.GetTableEntry(); te != nil && keep(te) {
				out = append(out, e)
			}
		}
		return out
	}
	in := func(table uint32) func(*p4v1.TableEntry) bool {
		return func(te *p4v1.TableEntry) bool { return te.GetTableId() == table }
	}
	schema := h.srv.Pipeline().Schema()
	defaultOf := func(table uint32) []*p4v1.Entity {
		return []*p4v1.Entity{tableQuery(&p4v1.TableEntry{TableId: table, IsDefaultAction: true,
			Action: directAction(schema.Tables[table].GetConstDefaultActionId())})}
	}
	cls := ids.GroupClassifier.Table
	rule := b.GroupClassifier(vectors.Classifiers[2]).GetTableEntry() // priority 10, padded bytestrings
	matchOf := func(te *p4v1.TableEntry, priority int32) *p4v1.TableEntry {
		return &p4v1.TableEntry{TableId: te.GetTableId(), Match: te.GetMatch(), Priority: priority}
	}
	for _, tc := range []struct {
		name  string
		query *p4v1.TableEntry
		want  []*p4v1.Entity
		code  codes.Code
	}{
		{"one table", &p4v1.TableEntry{TableId: cls}, pick(in(cls)), codes.OK},
		{"priority 20", &p4v1.TableEntry{TableId: cls, Priority: 20},
			pick(func(te *p4v1.TableEntry) bool { return te.GetTableId() == cls && te.GetPriority() == 20 }), codes.OK},
		{"priority no entry has", &p4v1.TableEntry{TableId: cls, Priority: 7}, nil, codes.OK},
		{"priority on a table without priorities", &p4v1.TableEntry{TableId: ids.PortRole.Table, Priority: 7}, nil, codes.OK},
		{"negative priority", &p4v1.TableEntry{TableId: cls, Priority: -1}, nil, codes.InvalidArgument},
		{"match, any priority", matchOf(rule, 0), []*p4v1.Entity{canonicalEntity(tableQuery(rule))}, codes.OK},
		{"match and its priority", matchOf(rule, 10), []*p4v1.Entity{canonicalEntity(tableQuery(rule))}, codes.OK},
		{"match and another priority", matchOf(rule, 20), nil, codes.OK},
		{"match of no entry", matchOf(b.GroupClassifier(entries.Classifier{Priority: 10, VLAN: 99, Group: 1}).GetTableEntry(), 0), nil, codes.OK},
		{"invalid match", &p4v1.TableEntry{TableId: cls, Match: []*p4v1.FieldMatch{exactMatch(ids.GroupClassifier.VLANID, []byte{1})}}, nil, codes.InvalidArgument},
		{"match missing an exact field", &p4v1.TableEntry{TableId: ids.BucketTable.Table, Match: []*p4v1.FieldMatch{exactMatch(ids.BucketTable.GroupID, []byte{1})}}, nil, codes.InvalidArgument},
		{"action forward", &p4v1.TableEntry{TableId: ids.L2Forward.Table, Action: directAction(ids.L2Forward.Forward)}, pick(in(ids.L2Forward.Table)), codes.OK},
		{"action no entry has", &p4v1.TableEntry{TableId: ids.L2Forward.Table, Action: directAction(ids.L2Forward.Flood)}, nil, codes.OK},
		{"action with parameters", &p4v1.TableEntry{TableId: ids.L2Forward.Table, Action: directAction(ids.L2Forward.Forward,
			&p4v1.Action_Param{ParamId: ids.L2Forward.ForwardPort, Value: []byte{1}})}, nil, codes.InvalidArgument},
		{"action of another table", &p4v1.TableEntry{TableId: ids.L2Forward.Table, Action: directAction(ids.PortRole.SetPortRole)}, nil, codes.InvalidArgument},
		{"action on an action-profile table", &p4v1.TableEntry{TableId: ids.BucketTable.Table, Action: directAction(ids.SendToTM.Action)}, nil, codes.InvalidArgument},
		{"member on an action-profile table", &p4v1.TableEntry{TableId: ids.BucketTable.Table,
			Action: &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileMemberId{ActionProfileMemberId: 100}}}, nil, codes.InvalidArgument},
		{"controller_metadata", &p4v1.TableEntry{TableId: ids.L2Forward.Table, ControllerMetadata: 42}, []*p4v1.Entity{canonicalEntity(tagged)}, codes.OK},
		{"controller_metadata no entry has", &p4v1.TableEntry{TableId: ids.L2Forward.Table, ControllerMetadata: 43}, nil, codes.OK},
		{"metadata", &p4v1.TableEntry{TableId: ids.L2Forward.Table, Metadata: []byte("tagged")}, []*p4v1.Entity{canonicalEntity(tagged)}, codes.OK},
		{"metadata no entry has", &p4v1.TableEntry{TableId: ids.L2Forward.Table, Metadata: []byte("other")}, nil, codes.OK},
		{"default entry", &p4v1.TableEntry{TableId: ids.L2Forward.Table, IsDefaultAction: true}, defaultOf(ids.L2Forward.Table), codes.OK},
		{"default entry NoAction", &p4v1.TableEntry{TableId: ids.PortRole.Table, IsDefaultAction: true}, defaultOf(ids.PortRole.Table), codes.OK},
		{"default entry and its action", &p4v1.TableEntry{TableId: ids.L2Forward.Table, IsDefaultAction: true, Action: directAction(ids.L2Forward.Flood)},
			defaultOf(ids.L2Forward.Table), codes.OK},
		{"default entry and another action", &p4v1.TableEntry{TableId: ids.L2Forward.Table, IsDefaultAction: true, Action: directAction(ids.L2Forward.Forward)}, nil, codes.OK},
		{"default entry of the action-profile table", &p4v1.TableEntry{TableId: ids.BucketTable.Table, IsDefaultAction: true}, nil, codes.OK},
		{"default entry with a match", &p4v1.TableEntry{TableId: cls, IsDefaultAction: true, Match: rule.GetMatch()}, nil, codes.InvalidArgument},
		{"every table with a priority", &p4v1.TableEntry{Priority: 10}, nil, codes.InvalidArgument},
		{"every table with an action", &p4v1.TableEntry{Action: directAction(ids.L2Forward.Forward)}, nil, codes.InvalidArgument},
		{"every table's default entry", &p4v1.TableEntry{IsDefaultAction: true}, nil, codes.InvalidArgument},
		{"every table with controller_metadata", &p4v1.TableEntry{ControllerMetadata: 42}, nil, codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := h.readAll(tableQuery(tc.query))
			if status.Code(err) != tc.code {
				t.Fatalf("Read: %v, want %v", err, tc.code)
			}
			sortEntities(got)
			want := slices.Clone(tc.want)
			sortEntities(want)
			if diff := diffEntities(want, got); diff != "" {
				t.Errorf("read (-want +got):\n%s", diff)
			}
		})
	}
}

// Counter reads follow spec §9.3.2 and §11.1: counter ID 0 is every
// counter, an index picks that cell of each counter that has it (one
// counter being shorter is not an error), a negative index is
// INVALID_ARGUMENT, and an index past the one counter asked for is
// OUT_OF_RANGE.
func TestReadCounterIndex(t *testing.T) {
	h, _ := ready(t)
	ids := h.ids
	schema := h.srv.Pipeline().Schema()
	type cell struct {
		ID    uint32
		Index int64
	}
	cellsAt := func(index int64) []cell {
		var out []cell
		for id, c := range schema.Counters {
			if index < c.GetSize() {
				out = append(out, cell{id, index})
			}
		}
		return out
	}
	size := func(id uint32) int64 { return schema.Counters[id].GetSize() }
	index := func(i int64) *p4v1.Index { return &p4v1.Index{Index: i} }
	for _, tc := range []struct {
		name  string
		query *p4v1.CounterEntry
		want  []cell
		code  codes.Code
	}{
		{"index 10 of every counter", &p4v1.CounterEntry{Index: index(10)}, cellsAt(10), codes.OK},
		{"index 0 of every counter", &p4v1.CounterEntry{Index: index(0)}, cellsAt(0), codes.OK},
		{"an index no counter has", &p4v1.CounterEntry{Index: index(1 << 40)}, nil, codes.OK},
		{"negative index of every counter", &p4v1.CounterEntry{Index: index(-1)}, nil, codes.InvalidArgument},
		{"last cell", &p4v1.CounterEntry{CounterId: ids.DropCounter, Index: index(size(ids.DropCounter) - 1)},
			[]cell{{ids.DropCounter, size(ids.DropCounter) - 1}}, codes.OK},
		{"one past the last cell", &p4v1.CounterEntry{CounterId: ids.DropCounter, Index: index(size(ids.DropCounter))}, nil, codes.OutOfRange},
		{"negative index", &p4v1.CounterEntry{CounterId: ids.DropCounter, Index: index(-1)}, nil, codes.InvalidArgument},
		{"unknown counter", &p4v1.CounterEntry{CounterId: 999, Index: index(0)}, nil, codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := h.readAll(&p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: tc.query}})
			if status.Code(err) != tc.code {
				t.Fatalf("Read: %v, want %v", err, tc.code)
			}
			var cells []cell
			for _, e := range got {
				ce := e.GetCounterEntry()
				if ce.GetData() == nil {
					t.Errorf("counter entry without data: %v", ce)
				}
				cells = append(cells, cell{ce.GetCounterId(), ce.GetIndex().GetIndex()})
			}
			less := func(a, b cell) int {
				if a.ID != b.ID {
					return int(a.ID>>1) - int(b.ID>>1)
				}
				return int(a.Index - b.Index)
			}
			slices.SortFunc(cells, less)
			want := slices.Clone(tc.want)
			slices.SortFunc(want, less)
			if diff := gocmp.Diff(want, cells); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

// A stored entry keeps its controller_metadata and metadata: they read
// back as written (read-write symmetry, spec §12).
func TestReadKeepsEntryMetadata(t *testing.T) {
	h, _ := ready(t)
	e := entries.Builder{IDs: h.ids}.L2Forward(net.HardwareAddr{2, 0, 0, 0, 0, 0x43}, vectors.PortServer)
	e.GetTableEntry().ControllerMetadata = 7
	e.GetTableEntry().Metadata = []byte{0, 1}
	if err := h.write(eid(1), entries.Update(p4v1.Update_INSERT, e)); err != nil {
		t.Fatal(err)
	}
	q := proto.Clone(e).(*p4v1.Entity)
	q.GetTableEntry().Action, q.GetTableEntry().ControllerMetadata, q.GetTableEntry().Metadata = nil, 0, nil
	got, _, err := h.readAll(q)
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffEntities([]*p4v1.Entity{canonicalEntity(e)}, got); diff != "" {
		t.Errorf("read back (-written +read):\n%s", diff)
	}
}
