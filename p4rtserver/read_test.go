// SPDX-License-Identifier: Apache-2.0

package p4rtserver_test

import (
	"cmp"
	"errors"
	"io"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/vectors"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// wildcards reads every table entry, member and multicast group.
func wildcards() []*p4v1.Entity { return entries.Wildcards() }

// canonicalBytes is the canonical form of a bytestring (spec §8.4): no
// leading zero byte, at least one byte.
func canonicalBytes(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func canonicalAction(a *p4v1.Action) {
	for _, p := range a.GetParams() {
		p.Value = canonicalBytes(p.GetValue())
	}
	slices.SortFunc(a.GetParams(), func(x, y *p4v1.Action_Param) int { return cmp.Compare(x.GetParamId(), y.GetParamId()) })
}

// canonicalEntity is e as a switch must read it back: bytestrings
// canonical, match fields and params by ID.
func canonicalEntity(e *p4v1.Entity) *p4v1.Entity {
	e = proto.Clone(e).(*p4v1.Entity)
	if te := e.GetTableEntry(); te != nil {
		for _, m := range te.GetMatch() {
			if x := m.GetExact(); x != nil {
				x.Value = canonicalBytes(x.GetValue())
			}
			if x := m.GetTernary(); x != nil {
				x.Value, x.Mask = canonicalBytes(x.GetValue()), canonicalBytes(x.GetMask())
			}
		}
		slices.SortFunc(te.GetMatch(), func(x, y *p4v1.FieldMatch) int { return cmp.Compare(x.GetFieldId(), y.GetFieldId()) })
		canonicalAction(te.GetAction().GetAction())
	}
	canonicalAction(e.GetActionProfileMember().GetAction())
	return e
}

// Read-write symmetry: what the fixture writes, wildcard reads return, in
// canonical form, in several ReadResponses of at most 1000 entities.
func TestReadWriteSymmetry(t *testing.T) {
	h, _ := ready(t)
	var want []*p4v1.Entity
	for _, u := range vectors.State(h.ids) {
		want = append(want, canonicalEntity(u.GetEntity()))
	}
	got, responses, err := h.readAll(wildcards()...)
	if err != nil {
		t.Fatal(err)
	}
	sortEntities(want)
	sortEntities(got)
	if diff := diffEntities(want, got); diff != "" {
		t.Errorf("read back (-written +read):\n%s", diff)
	}
	if min := (len(want) + 999) / 1000; responses < min {
		t.Errorf("%d entities in %d ReadResponses, want at least %d", len(got), responses, min)
	}

	// Reading as a client without a stream, one table, one entry.
	ids := h.ids.PortRole
	oneTable, _, err := h.readAll(&p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: ids.Table}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(vectors.EdgePorts) + len(vectors.TMs) + 1; len(oneTable) != n {
		t.Errorf("port_role: %d entries, want %d", len(oneTable), n)
	}
	q := entries.Builder{IDs: h.ids}.PortRole(vectors.PortServer, 0)
	q.GetTableEntry().Action = nil
	q.GetTableEntry().Match[0] = exactMatch(ids.IngressPort, []byte{0, 0, vectors.PortServer}) // padded
	one, _, err := h.readAll(q)
	if err != nil {
		t.Fatal(err)
	}
	wantOne := []*p4v1.Entity{canonicalEntity(entries.Builder{IDs: h.ids}.PortRole(vectors.PortServer, 1))}
	if diff := gocmp.Diff(wantOne, one, protocmp.Transform()); diff != "" {
		t.Errorf("read of one entry (-want +got):\n%s", diff)
	}

	// One member, by ID.
	members, _, err := h.readAll(&p4v1.Entity{Entity: &p4v1.Entity_ActionProfileMember{ActionProfileMember: &p4v1.ActionProfileMember{
		ActionProfileId: h.ids.TMMembers, MemberId: 101}}})
	if err != nil || len(members) != 1 || members[0].GetActionProfileMember().GetMemberId() != 101 {
		t.Errorf("read of member 101: %v, %v", members, err)
	}
}

// Counters read back with wildcards: every cell of every counter.
func TestReadCounters(t *testing.T) {
	h, _ := ready(t)
	got, _, err := h.readAll(&p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{}}})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, c := range h.srv.Pipeline().Schema().Counters {
		want += int(c.GetSize())
	}
	if len(got) != want {
		t.Errorf("%d counter entries, want %d", len(got), want)
	}
	one, _, err := h.readAll(&p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{
		CounterId: h.ids.DropCounter, Index: &p4v1.Index{Index: 2}}}})
	if err != nil || len(one) != 1 {
		t.Errorf("read of one counter cell: %v, %v", one, err)
	}
}

// Read errors: before a pipeline, wrong device, malformed queries.
func TestReadErrors(t *testing.T) {
	h := newHarness(t)
	read := func(req *p4v1.ReadRequest) error {
		t.Helper()
		rc, err := h.cli.Read(ctx(t), req)
		if err != nil {
			return err
		}
		for {
			if _, err := rc.Recv(); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return err
			}
		}
	}
	all := &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{}}}
	if err := read(&p4v1.ReadRequest{DeviceId: deviceID, Entities: []*p4v1.Entity{all}}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("read before any pipeline: %v, want FAILED_PRECONDITION", err)
	}
	h.primary(1)
	h.commit(1)
	for _, c := range []struct {
		name string
		req  *p4v1.ReadRequest
		want codes.Code
	}{
		{"wrong device", &p4v1.ReadRequest{DeviceId: deviceID + 1, Entities: []*p4v1.Entity{all}}, codes.NotFound},
		{"non-default role", &p4v1.ReadRequest{DeviceId: deviceID, Role: "sdn", Entities: []*p4v1.Entity{all}}, codes.NotFound},
		{"entity with no type", &p4v1.ReadRequest{DeviceId: deviceID, Entities: []*p4v1.Entity{{}}}, codes.InvalidArgument},
		{"unknown table", &p4v1.ReadRequest{DeviceId: deviceID, Entities: []*p4v1.Entity{
			{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: 999}}}}}, codes.InvalidArgument},
		{"bad match in a query", &p4v1.ReadRequest{DeviceId: deviceID, Entities: []*p4v1.Entity{
			{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: h.ids.PortRole.Table, Match: []*p4v1.FieldMatch{exactMatch(99, []byte{1})}}}}}}, codes.InvalidArgument},
		{"match without a table", &p4v1.ReadRequest{DeviceId: deviceID, Entities: []*p4v1.Entity{
			{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{Match: []*p4v1.FieldMatch{exactMatch(1, []byte{1})}}}}}}, codes.InvalidArgument},
		{"unknown counter", &p4v1.ReadRequest{DeviceId: deviceID, Entities: []*p4v1.Entity{
			{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{CounterId: 999}}}}}, codes.InvalidArgument},
		{"counter index out of range", &p4v1.ReadRequest{DeviceId: deviceID, Entities: []*p4v1.Entity{
			{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{CounterId: h.ids.DropCounter, Index: &p4v1.Index{Index: 1 << 40}}}}}}, codes.OutOfRange},
		{"action-profile groups", &p4v1.ReadRequest{DeviceId: deviceID, Entities: []*p4v1.Entity{
			{Entity: &p4v1.Entity_ActionProfileGroup{ActionProfileGroup: &p4v1.ActionProfileGroup{}}}}}, codes.Unimplemented},
		{"no entities", &p4v1.ReadRequest{DeviceId: deviceID}, codes.OK},
		{"the same query twice", &p4v1.ReadRequest{DeviceId: deviceID, Entities: []*p4v1.Entity{all, all}}, codes.OK},
	} {
		if err := read(c.req); status.Code(err) != c.want {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
