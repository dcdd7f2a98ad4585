// SPDX-License-Identifier: Apache-2.0

package p4rtserver_test

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/p4rtserver"
	"github.com/symdist/symdist/vectors"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// badUpdate is one entry of the catalogue of bad updates: each, written
// alone over the vectors' fixture, fails with want.
type badUpdate struct {
	name   string
	update *p4v1.Update
	want   codes.Code
}

// teOf returns a copy of the table entry of e, edited by edit, as an
// update of type op.
func teOf(op p4v1.Update_Type, e *p4v1.Entity, edit func(*p4v1.TableEntry)) *p4v1.Update {
	e = proto.Clone(e).(*p4v1.Entity)
	edit(e.GetTableEntry())
	return entries.Update(op, e)
}

func memberOf(op p4v1.Update_Type, e *p4v1.Entity, edit func(*p4v1.ActionProfileMember)) *p4v1.Update {
	e = proto.Clone(e).(*p4v1.Entity)
	edit(e.GetActionProfileMember())
	return entries.Update(op, e)
}

func exactMatch(id uint32, v []byte) *p4v1.FieldMatch {
	return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Exact_{Exact: &p4v1.FieldMatch_Exact{Value: v}}}
}

func ternaryMatch(id uint32, v, mask []byte) *p4v1.FieldMatch {
	return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Ternary_{Ternary: &p4v1.FieldMatch_Ternary{Value: v, Mask: mask}}}
}

// badUpdates is the catalogue, in the style of the PINS p4rt_app tests:
// every way an update can be wrong, with the code the spec requires.
func badUpdates(ids *p4info.IDs) []badUpdate {
	b := entries.Builder{IDs: ids}
	const (
		ins = p4v1.Update_INSERT
		mod = p4v1.Update_MODIFY
		del = p4v1.Update_DELETE
	)
	inval, notFound, exists := codes.InvalidArgument, codes.NotFound, codes.AlreadyExists
	pr := b.PortRole(40, 1) // not in the fixture
	prTable := ids.PortRole
	gc := b.GroupClassifier(entries.Classifier{Priority: 5, Proto: 6, Group: 1})
	gcIDs := ids.GroupClassifier
	tm := vectors.TMs[0]
	member := b.Member(500, tm)
	bucket := b.Bucket(9, 0, 100) // group 9 has no buckets in the fixture
	l2 := b.L2Forward(net.HardwareAddr{2, 0, 0, 0, 0, 0x77}, 9)
	mcast := entries.MulticastGroup(9, []uint16{1, 2})

	cases := []badUpdate{
		// Tables.
		{"unknown table ID", teOf(ins, pr, func(e *p4v1.TableEntry) { e.TableId = 999 }), inval},
		{"table ID 0", teOf(ins, pr, func(e *p4v1.TableEntry) { e.TableId = 0 }), inval},
		{"action-profile ID as table ID", teOf(ins, pr, func(e *p4v1.TableEntry) { e.TableId = ids.TMMembers }), inval},
		// Actions.
		{"unknown action ID", teOf(ins, pr, func(e *p4v1.TableEntry) { e.GetAction().GetAction().ActionId = 999 }), inval},
		{"action ID 0", teOf(ins, pr, func(e *p4v1.TableEntry) { e.GetAction().GetAction().ActionId = 0 }), inval},
		{"action of another table", teOf(ins, pr, func(e *p4v1.TableEntry) { e.GetAction().GetAction().ActionId = gcIDs.SetGroup }), inval},
		{"default-only action", teOf(ins, pr, func(e *p4v1.TableEntry) {
			e.Action = &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: &p4v1.Action{ActionId: ids.NoAction}}}
		}), inval},
		{"no action", teOf(ins, pr, func(e *p4v1.TableEntry) { e.Action = nil }), inval},
		{"action with no type", teOf(ins, pr, func(e *p4v1.TableEntry) { e.Action = &p4v1.TableAction{} }), inval},
		{"member in a direct table", teOf(ins, pr, func(e *p4v1.TableEntry) {
			e.Action = &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileMemberId{ActionProfileMemberId: 100}}
		}), inval},
		{"direct action in an indirect table", teOf(ins, bucket, func(e *p4v1.TableEntry) {
			e.Action = &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: b.SendToTM(tm)}}
		}), inval},
		{"action-profile group in an indirect table", teOf(ins, bucket, func(e *p4v1.TableEntry) {
			e.Action = &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileGroupId{ActionProfileGroupId: 1}}
		}), inval},
		{"member that does not exist", teOf(ins, bucket, func(e *p4v1.TableEntry) {
			e.Action = &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileMemberId{ActionProfileMemberId: 999}}
		}), notFound},
		// Action parameters.
		{"unknown param ID", teOf(ins, pr, func(e *p4v1.TableEntry) { e.GetAction().GetAction().Params[0].ParamId = 9 }), inval},
		{"param ID 0", teOf(ins, pr, func(e *p4v1.TableEntry) { e.GetAction().GetAction().Params[0].ParamId = 0 }), inval},
		{"missing param", teOf(ins, pr, func(e *p4v1.TableEntry) { e.GetAction().GetAction().Params = nil }), inval},
		{"duplicate param", teOf(ins, pr, func(e *p4v1.TableEntry) {
			a := e.GetAction().GetAction()
			a.Params = append(a.Params, proto.Clone(a.Params[0]).(*p4v1.Action_Param))
		}), inval},
		{"param wider than its 8 bits", teOf(ins, pr, func(e *p4v1.TableEntry) { e.GetAction().GetAction().Params[0].Value = []byte{1, 0} }), inval},
		{"param wider than its 9 bits", entries.Update(ins, b.L2Forward(net.HardwareAddr{2, 0, 0, 0, 0, 0x78}, 512)), inval},
		{"empty param value", teOf(ins, pr, func(e *p4v1.TableEntry) { e.GetAction().GetAction().Params[0].Value = nil }), inval},
		{"48-bit param given 7 bytes", entries.Update(ins, b.TMAddress(netip.MustParseAddr("10.9.9.9"),
			entries.TM{ID: 1, Port: 1, MAC: net.HardwareAddr{1, 2, 3, 4, 5, 6, 7}})), inval},
		// Match fields.
		{"unknown match field ID", teOf(ins, pr, func(e *p4v1.TableEntry) { e.Match[0].FieldId = 9 }), inval},
		{"match field ID 0", teOf(ins, pr, func(e *p4v1.TableEntry) { e.Match[0].FieldId = 0 }), inval},
		{"missing exact match field", teOf(ins, pr, func(e *p4v1.TableEntry) { e.Match = nil }), inval},
		{"one of two exact fields missing", teOf(ins, bucket, func(e *p4v1.TableEntry) { e.Match = e.Match[:1] }), inval},
		{"duplicate match field", teOf(ins, pr, func(e *p4v1.TableEntry) {
			e.Match = append(e.Match, exactMatch(prTable.IngressPort, []byte{41}))
		}), inval},
		{"exact value wider than its 9 bits", teOf(ins, pr, func(e *p4v1.TableEntry) { e.Match[0] = exactMatch(prTable.IngressPort, []byte{2, 0}) }), inval},
		{"exact value of too many bytes", teOf(ins, l2, func(e *p4v1.TableEntry) {
			e.Match[0] = exactMatch(ids.L2Forward.DstAddr, []byte{1, 2, 0, 0, 0, 0, 0x77})
		}), inval},
		{"empty exact value", teOf(ins, pr, func(e *p4v1.TableEntry) { e.Match[0] = exactMatch(prTable.IngressPort, nil) }), inval},
		{"match with no type", teOf(ins, pr, func(e *p4v1.TableEntry) { e.Match[0] = &p4v1.FieldMatch{FieldId: prTable.IngressPort} }), inval},
		{"ternary match on an exact field", teOf(ins, pr, func(e *p4v1.TableEntry) {
			e.Match[0] = ternaryMatch(prTable.IngressPort, []byte{40}, []byte{0xff})
		}), inval},
		{"exact match on a ternary field", teOf(ins, gc, func(e *p4v1.TableEntry) { e.Match[0] = exactMatch(gcIDs.IPProto, []byte{6}) }), inval},
		{"ternary value outside its mask", teOf(ins, gc, func(e *p4v1.TableEntry) { e.Match[0] = ternaryMatch(gcIDs.IPProto, []byte{6}, []byte{0xf0}) }), inval},
		{"ternary all-zero mask", teOf(ins, gc, func(e *p4v1.TableEntry) { e.Match[0] = ternaryMatch(gcIDs.IPProto, []byte{0}, []byte{0}) }), inval},
		{"ternary mask wider than the field", teOf(ins, gc, func(e *p4v1.TableEntry) {
			e.Match[0] = ternaryMatch(gcIDs.VLANID, []byte{0, 20}, []byte{0x1f, 0xff})
		}), inval},
		{"ternary without priority", teOf(ins, gc, func(e *p4v1.TableEntry) { e.Priority = 0 }), inval},
		{"negative priority", teOf(ins, gc, func(e *p4v1.TableEntry) { e.Priority = -1 }), inval},
		{"priority in an exact table", teOf(ins, pr, func(e *p4v1.TableEntry) { e.Priority = 10 }), inval},
		// Existence.
		{"duplicate insert", entries.Update(ins, b.PortRole(vectors.PortClient, 1)), exists},
		{"duplicate insert with a different action", entries.Update(ins, b.PortRole(vectors.PortClient, 2)), exists},
		{"duplicate insert, padded key", teOf(ins, b.PortRole(vectors.PortClient, 1), func(e *p4v1.TableEntry) {
			e.Match[0] = exactMatch(prTable.IngressPort, []byte{0, 0, vectors.PortClient})
		}), exists},
		{"modify of a missing entry", entries.Update(mod, pr), notFound},
		{"delete of a missing entry", entries.Update(del, pr), notFound},
		{"delete of a missing ternary entry", entries.Update(del, gc), notFound},
		{"table full", nil, codes.ResourceExhausted}, // filled in by the test
		// Default entries.
		{"modify of a const default action", teOf(mod, pr, func(e *p4v1.TableEntry) { e.Match, e.IsDefaultAction = nil, true }), codes.PermissionDenied},
		{"default action of an indirect table", teOf(mod, bucket, func(e *p4v1.TableEntry) {
			e.Match, e.IsDefaultAction, e.Action = nil, true, nil
		}), inval},
		// Action-profile members.
		{"duplicate member", entries.Update(ins, b.Member(100, tm)), exists},
		{"member ID 0", memberOf(ins, member, func(m *p4v1.ActionProfileMember) { m.MemberId = 0 }), inval},
		{"unknown action profile", memberOf(ins, member, func(m *p4v1.ActionProfileMember) { m.ActionProfileId = 999 }), inval},
		{"action profile ID 0", memberOf(ins, member, func(m *p4v1.ActionProfileMember) { m.ActionProfileId = 0 }), inval},
		{"member without action", memberOf(ins, member, func(m *p4v1.ActionProfileMember) { m.Action = nil }), inval},
		{"member with another table's action", memberOf(ins, member, func(m *p4v1.ActionProfileMember) {
			m.Action = &p4v1.Action{ActionId: ids.L2Forward.Forward, Params: []*p4v1.Action_Param{{ParamId: ids.L2Forward.ForwardPort, Value: []byte{1}}}}
		}), inval},
		{"member with a bad param", memberOf(ins, member, func(m *p4v1.ActionProfileMember) { m.Action.Params[0].Value = []byte{1, 0, 0} }), inval},
		{"modify of a missing member", entries.Update(mod, member), notFound},
		{"delete of a missing member", entries.Update(del, member), notFound},
		{"delete of a member a bucket uses", entries.Update(del, b.Member(100, tm)), codes.FailedPrecondition},
		// Multicast groups.
		{"multicast group ID 0", entries.Update(ins, entries.MulticastGroup(0, []uint16{1})), inval},
		{"duplicate multicast group", entries.Update(ins, entries.MulticastGroup(vectors.FloodGroup, []uint16{1})), exists},
		{"replica port out of range", entries.Update(ins, entries.MulticastGroup(9, []uint16{600})), inval},
		{"duplicate replica", entries.Update(ins, entries.MulticastGroup(9, []uint16{1, 1})), inval},
		{"modify of a missing multicast group", entries.Update(mod, mcast), notFound},
		{"delete of a missing multicast group", entries.Update(del, mcast), notFound},
		{"clone session", entries.Update(ins, &p4v1.Entity{Entity: &p4v1.Entity_PacketReplicationEngineEntry{PacketReplicationEngineEntry: &p4v1.PacketReplicationEngineEntry{
			Type: &p4v1.PacketReplicationEngineEntry_CloneSessionEntry{CloneSessionEntry: &p4v1.CloneSessionEntry{SessionId: 1}}}}}), codes.Unimplemented},
		// Updates and entities.
		{"update type unspecified", &p4v1.Update{Entity: pr}, inval},
		{"update type out of range", &p4v1.Update{Type: 9, Entity: pr}, inval},
		{"update without entity", &p4v1.Update{Type: ins}, inval},
		{"entity with no type", &p4v1.Update{Type: ins, Entity: &p4v1.Entity{}}, inval},
		{"counter entry", entries.Update(mod, &p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{CounterId: ids.DropCounter}}}), codes.Unimplemented},
		{"action-profile group", entries.Update(ins, &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileGroup{ActionProfileGroup: &p4v1.ActionProfileGroup{ActionProfileId: ids.TMMembers, GroupId: 1}}}), codes.Unimplemented},
		{"register entry", entries.Update(mod, &p4v1.Entity{Entity: &p4v1.Entity_RegisterEntry{RegisterEntry: &p4v1.RegisterEntry{RegisterId: 1}}}), codes.Unimplemented},
	}
	return cases
}

// Every bad update fails with its code, in a batch of one, and leaves the
// state as it was.
func TestWriteBadUpdates(t *testing.T) {
	h, _ := ready(t)
	before, _, err := h.readAll(wildcards()...)
	if err != nil {
		t.Fatal(err)
	}
	// default_tm holds 16 entries and the fixture 2: fill it to the brim.
	b := entries.Builder{IDs: h.ids}
	var fill []*p4v1.Update
	for g := uint16(100); g < 114; g++ {
		fill = append(fill, entries.Update(p4v1.Update_INSERT, b.DefaultTM(g, vectors.TMs[0])))
	}
	for _, c := range badUpdates(h.ids) {
		t.Run(c.name, func(t *testing.T) {
			if c.update == nil { // table full
				if err := h.write(eid(1), fill...); err != nil {
					t.Fatal(err)
				}
				defer func() {
					for _, u := range fill {
						u.Type = p4v1.Update_DELETE
					}
					if err := h.write(eid(1), fill...); err != nil {
						t.Fatal(err)
					}
				}()
				c.update = entries.Update(p4v1.Update_INSERT, b.DefaultTM(200, vectors.TMs[0]))
			}
			err := h.write(eid(1), c.update)
			got := updateCodes(t, err, 1)
			t.Logf("%v: %s", got[0], status.Convert(err).Details()[0].(*p4v1.Error).GetMessage())
			if got[0] != c.want {
				t.Errorf("update code %v, want %v (%v)", got[0], c.want, status.Convert(err).Details())
			}
		})
	}
	after, _, err := h.readAll(wildcards()...)
	if err != nil {
		t.Fatal(err)
	}
	sortEntities(before)
	sortEntities(after)
	if diff := diffEntities(before, after); diff != "" {
		t.Errorf("bad updates changed the state (-before +after):\n%s", diff)
	}
}

// A batch with failures reports one p4.v1.Error per update, in order, OK
// for those that succeeded, which are applied (CONTINUE_ON_ERROR).
func TestWriteBatchErrors(t *testing.T) {
	h, _ := ready(t)
	b := entries.Builder{IDs: h.ids}
	batch := []*p4v1.Update{
		entries.Update(p4v1.Update_INSERT, b.PortRole(40, 1)),
		entries.Update(p4v1.Update_INSERT, b.PortRole(vectors.PortClient, 1)), // exists
		entries.Update(p4v1.Update_INSERT, b.PortRole(41, 1)),
		entries.Update(p4v1.Update_MODIFY, b.PortRole(42, 1)), // missing
		entries.Update(p4v1.Update_DELETE, b.PortRole(40, 1)), // inserted above
		{Type: p4v1.Update_INSERT},
	}
	err := h.write(eid(1), batch...)
	got := updateCodes(t, err, len(batch))
	want := []codes.Code{codes.OK, codes.AlreadyExists, codes.OK, codes.NotFound, codes.OK, codes.InvalidArgument}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("per-update codes (-want +got):\n%s", diff)
	}
	for i, d := range status.Convert(err).Details() {
		if pe := d.(*p4v1.Error); (pe.GetCanonicalCode() != 0) != (pe.GetMessage() != "") {
			t.Errorf("detail %d: %v: a failure has a message, a success none", i, pe)
		}
	}
	// Port 41 was written, port 40 written then deleted.
	for port, want := range map[uint16]int{40: 0, 41: 1} {
		q := b.PortRole(port, 0)
		q.GetTableEntry().Action = nil
		es, _, err := h.readAll(q)
		if err != nil || len(es) != want {
			t.Errorf("port_role %d: read %d entries (%v), want %d", port, len(es), err, want)
		}
	}
}

// Errors of the whole call come in the spec's order and carry no details.
func TestWriteRequestErrors(t *testing.T) {
	h := newHarness(t)
	pr := entries.Update(p4v1.Update_INSERT, entries.Builder{IDs: h.ids}.PortRole(40, 1))
	write := func(req *p4v1.WriteRequest) error {
		_, err := h.cli.Write(ctx(t), req)
		return err
	}
	check := func(name string, req *p4v1.WriteRequest, want codes.Code) {
		t.Helper()
		err := write(req)
		if got := status.Code(err); got != want {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
		if d := status.Convert(err).Details(); len(d) != 0 {
			t.Errorf("%s: %d details, want none for a call-wide error", name, len(d))
		}
	}

	// No controller, no pipeline.
	check("before any controller", &p4v1.WriteRequest{DeviceId: deviceID, ElectionId: eid(1), Updates: []*p4v1.Update{pr}}, codes.PermissionDenied)
	h.primary(2)
	check("before any pipeline", &p4v1.WriteRequest{DeviceId: deviceID, ElectionId: eid(2), Updates: []*p4v1.Update{pr}}, codes.FailedPrecondition)
	check("backup before any pipeline", &p4v1.WriteRequest{DeviceId: deviceID, ElectionId: eid(1), Updates: []*p4v1.Update{pr}}, codes.PermissionDenied)
	h.commit(2)
	backup := h.connect(eid(1))
	backup.wantArbitration(codes.AlreadyExists, eid(2))

	for _, c := range []struct {
		name string
		req  *p4v1.WriteRequest
		want codes.Code
	}{
		{"from a backup", &p4v1.WriteRequest{DeviceId: deviceID, ElectionId: eid(1), Updates: []*p4v1.Update{pr}}, codes.PermissionDenied},
		{"from an unknown election_id", &p4v1.WriteRequest{DeviceId: deviceID, ElectionId: eid(3), Updates: []*p4v1.Update{pr}}, codes.PermissionDenied},
		{"without election_id", &p4v1.WriteRequest{DeviceId: deviceID, Updates: []*p4v1.Update{pr}}, codes.PermissionDenied},
		{"primary's low with another high", &p4v1.WriteRequest{DeviceId: deviceID, ElectionId: &p4v1.Uint128{High: 1, Low: 2}, Updates: []*p4v1.Update{pr}}, codes.PermissionDenied},
		{"wrong device", &p4v1.WriteRequest{DeviceId: deviceID + 1, ElectionId: eid(2), Updates: []*p4v1.Update{pr}}, codes.NotFound},
		{"device 0", &p4v1.WriteRequest{ElectionId: eid(2), Updates: []*p4v1.Update{pr}}, codes.NotFound},
		{"wrong device from a backup", &p4v1.WriteRequest{DeviceId: deviceID + 1, ElectionId: eid(1), Updates: []*p4v1.Update{pr}}, codes.NotFound},
		{"non-default role", &p4v1.WriteRequest{DeviceId: deviceID, Role: "sdn", ElectionId: eid(2), Updates: []*p4v1.Update{pr}}, codes.NotFound},
		{"ROLLBACK_ON_ERROR", &p4v1.WriteRequest{DeviceId: deviceID, ElectionId: eid(2), Atomicity: p4v1.WriteRequest_ROLLBACK_ON_ERROR, Updates: []*p4v1.Update{pr}}, codes.Unimplemented},
		{"DATAPLANE_ATOMIC", &p4v1.WriteRequest{DeviceId: deviceID, ElectionId: eid(2), Atomicity: p4v1.WriteRequest_DATAPLANE_ATOMIC, Updates: []*p4v1.Update{pr}}, codes.Unimplemented},
		{"unknown atomicity", &p4v1.WriteRequest{DeviceId: deviceID, ElectionId: eid(2), Atomicity: 9, Updates: []*p4v1.Update{pr}}, codes.InvalidArgument},
		{"too many updates", &p4v1.WriteRequest{DeviceId: deviceID, ElectionId: eid(2), Updates: make([]*p4v1.Update, p4rtserver.MaxUpdatesPerWrite+1)}, codes.ResourceExhausted},
		{"no updates", &p4v1.WriteRequest{DeviceId: deviceID, ElectionId: eid(2)}, codes.OK},
	} {
		if c.name == "too many updates" {
			for i := range c.req.Updates {
				c.req.Updates[i] = pr
			}
		}
		check(c.name, c.req, c.want)
	}
	check("from the primary", &p4v1.WriteRequest{DeviceId: deviceID, ElectionId: eid(2), Updates: []*p4v1.Update{pr}}, codes.OK)
}

// Padded bytestrings are accepted and stored canonical (spec §8.4).
func TestWritePaddedBytestrings(t *testing.T) {
	h := newHarness(t)
	h.primary(1)
	h.commit(1)
	ids := h.ids.PortRole
	padded := &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{
		TableId: ids.Table,
		Match:   []*p4v1.FieldMatch{exactMatch(ids.IngressPort, []byte{0, 0, 0, 5})},
		Action: &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: &p4v1.Action{ActionId: ids.SetPortRole,
			Params: []*p4v1.Action_Param{{ParamId: ids.Role, Value: []byte{0, 0, 1}}}}}},
	}}}
	if err := h.write(eid(1), entries.Update(p4v1.Update_INSERT, padded)); err != nil {
		t.Fatal(err)
	}
	got, _, err := h.readAll(&p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: ids.Table}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []*p4v1.Entity{entries.Builder{IDs: h.ids}.PortRole(5, 1)}
	want[0].GetTableEntry().Match[0] = exactMatch(ids.IngressPort, []byte{5})
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
}
