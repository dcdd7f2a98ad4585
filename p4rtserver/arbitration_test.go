// SPDX-License-Identifier: Apache-2.0

package p4rtserver_test

import (
	"testing"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

// A port_role entry no fixture holds, to probe who may write.
func probe(h *harness, port uint16) *p4v1.Update {
	return entries.Update(p4v1.Update_INSERT, entries.Builder{IDs: h.ids}.PortRole(port, 1))
}

func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

// Two controllers: the higher election_id is primary, the other is told
// ALREADY_EXISTS; only the primary writes.
func TestArbitrationTwoClients(t *testing.T) {
	h := newHarness(t)
	a := h.primary(1)
	h.commit(1)

	b := h.connect(eid(2))
	a.wantArbitration(codes.AlreadyExists, eid(2))
	b.wantArbitration(codes.OK, eid(2))

	wantCode(t, "write from the backup", h.write(eid(1), probe(h, 20)), codes.PermissionDenied)
	wantCode(t, "write from the primary", h.write(eid(2), probe(h, 20)), codes.OK)

	// A lower election_id joining later is a backup, and only it is told.
	c := h.connect(eid(0))
	c.wantArbitration(codes.AlreadyExists, eid(2))
	a.wantQuiet()
	b.wantQuiet()
}

// The primary dies: everyone is told there is no primary (NOT_FOUND) and
// nobody may write; a backup that re-arbitrates with a higher election_id
// becomes primary, everyone is told, and it writes. The spec (§5.3, since
// v1.1) promotes nobody by itself: the highest election_id ever seen
// stays the bar.
func TestArbitrationPrimaryDiesBackupTakesOver(t *testing.T) {
	h := newHarness(t)
	a := h.primary(1)
	b := h.connect(eid(2))
	a.wantArbitration(codes.AlreadyExists, eid(2))
	b.wantArbitration(codes.OK, eid(2))
	h.commit(2)

	b.close()
	a.wantArbitration(codes.NotFound, eid(2))
	wantCode(t, "write with the dead primary's election_id", h.write(eid(2), probe(h, 20)), codes.PermissionDenied)
	wantCode(t, "write from the backup", h.write(eid(1), probe(h, 20)), codes.PermissionDenied)

	// Re-arbitrating below the highest ever seen does not promote.
	a.arbitrate(deviceID, eid(1))
	a.wantArbitration(codes.NotFound, eid(2))

	a.arbitrate(deviceID, eid(3))
	a.wantArbitration(codes.OK, eid(3))
	wantCode(t, "write from the promoted backup", h.write(eid(3), probe(h, 20)), codes.OK)

	// The old primary comes back with its old election_id: a backup now.
	b2 := h.connect(eid(2))
	b2.wantArbitration(codes.AlreadyExists, eid(3))
}

// Three controllers; the primary dies, the two others are told, one takes
// over and the third is told it is a backup.
func TestArbitrationThreeClients(t *testing.T) {
	h := newHarness(t)
	c3 := h.primary(3)
	c1 := h.connect(eid(1))
	c1.wantArbitration(codes.AlreadyExists, eid(3))
	c2 := h.connect(eid(2))
	c2.wantArbitration(codes.AlreadyExists, eid(3))
	c3.wantQuiet()

	c3.close()
	c1.wantArbitration(codes.NotFound, eid(3))
	c2.wantArbitration(codes.NotFound, eid(3))

	c2.arbitrate(deviceID, eid(4))
	c1.wantArbitration(codes.AlreadyExists, eid(4))
	c2.wantArbitration(codes.OK, eid(4))
	h.commit(4)
	wantCode(t, "write from the new primary", h.write(eid(4), probe(h, 20)), codes.OK)
	wantCode(t, "write from the remaining backup", h.write(eid(1), probe(h, 21)), codes.PermissionDenied)

	// A backup that dies changes nothing for the others.
	c1.close()
	c2.wantQuiet()
}

// A higher election_id arriving makes a new primary; the old one is told.
func TestArbitrationPreempt(t *testing.T) {
	h := newHarness(t)
	a := h.primary(5)
	b := h.connect(eid(9))
	a.wantArbitration(codes.AlreadyExists, eid(9))
	b.wantArbitration(codes.OK, eid(9))
	wantCode(t, "set pipeline by the old primary", h.setConfig(eid(5), p4v1.SetForwardingPipelineConfigRequest_VERIFY, pipelineConfig()), codes.PermissionDenied)
	wantCode(t, "set pipeline by the new primary", h.setConfig(eid(9), p4v1.SetForwardingPipelineConfigRequest_VERIFY, pipelineConfig()), codes.OK)
}

// A primary that re-arbitrates lower steps down; everyone is told that
// there is no primary. The same election_id again keeps it primary.
func TestArbitrationPrimaryStepsDown(t *testing.T) {
	h := newHarness(t)
	a := h.primary(5)
	b := h.connect(eid(3))
	b.wantArbitration(codes.AlreadyExists, eid(5))

	a.arbitrate(deviceID, eid(5))
	b.wantArbitration(codes.AlreadyExists, eid(5))
	a.wantArbitration(codes.OK, eid(5))

	a.arbitrate(deviceID, eid(4))
	a.wantArbitration(codes.NotFound, eid(5))
	b.wantArbitration(codes.NotFound, eid(5))
	wantCode(t, "write from the stepped-down primary", h.write(eid(4), probe(h, 20)), codes.PermissionDenied)
	wantCode(t, "write with the old election_id", h.write(eid(5), probe(h, 20)), codes.PermissionDenied)
}

// A primary that reconnects with its election_id is primary again.
func TestArbitrationPrimaryReconnects(t *testing.T) {
	h := newHarness(t)
	a := h.primary(5)
	watch := h.connect(nil)
	watch.wantArbitration(codes.AlreadyExists, eid(5))
	a.close()
	watch.wantArbitration(codes.NotFound, eid(5)) // the server saw it go
	h.primary(5)
	watch.wantArbitration(codes.AlreadyExists, eid(5))
	h.commit(5)
	wantCode(t, "write after reconnecting", h.write(eid(5), probe(h, 20)), codes.OK)
}

// A controller with no election_id is a backup, never primary; it may
// still read.
func TestArbitrationNoElectionID(t *testing.T) {
	h := newHarness(t)
	a := h.connect(nil)
	a.wantArbitration(codes.NotFound, nil) // no primary ever: no election_id
	b := h.connect(nil)                    // several may have none
	b.wantArbitration(codes.NotFound, nil)

	p := h.primary(1)
	a.wantArbitration(codes.AlreadyExists, eid(1))
	b.wantArbitration(codes.AlreadyExists, eid(1))
	h.commit(1)
	wantCode(t, "write without election_id", h.write(nil, probe(h, 20)), codes.PermissionDenied)
	if _, _, err := h.readAll(&p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{}}}); err != nil {
		t.Fatalf("read by a client without election_id: %v", err)
	}

	// The primary dies; the unset election_ids remain backups.
	p.close()
	a.wantArbitration(codes.NotFound, eid(1))
	b.wantArbitration(codes.NotFound, eid(1))

	// {high: 0, low: 0} is an election_id, unlike an unset one.
	c := h.connect(&p4v1.Uint128{})
	c.wantArbitration(codes.NotFound, eid(1))
}

// The arbitration errors of spec §5.3 end the stream with their code.
func TestArbitrationErrors(t *testing.T) {
	t.Run("unknown device", func(t *testing.T) {
		h := newHarness(t)
		s := h.open()
		s.arbitrate(deviceID+1, eid(1))
		s.wantClosed(codes.NotFound)
	})
	t.Run("device 0", func(t *testing.T) {
		h := newHarness(t)
		s := h.open()
		s.arbitrate(0, eid(1))
		s.wantClosed(codes.NotFound)
	})
	t.Run("device change on a live stream", func(t *testing.T) {
		h := newHarness(t)
		s := h.primary(1)
		b := h.connect(nil)
		b.wantArbitration(codes.AlreadyExists, eid(1))
		s.arbitrate(deviceID+1, eid(1))
		s.wantClosed(codes.FailedPrecondition)
		b.wantArbitration(codes.NotFound, eid(1)) // the primary is gone
	})
	t.Run("duplicate election_id", func(t *testing.T) {
		h := newHarness(t)
		a := h.primary(1)
		b := h.connect(eid(1))
		b.wantClosed(codes.InvalidArgument)
		a.wantQuiet()
		wantCode(t, "write from the primary", h.write(eid(1), probe(h, 20)), codes.FailedPrecondition) // still primary; no pipeline
	})
	t.Run("duplicate election_id on re-arbitration", func(t *testing.T) {
		h := newHarness(t)
		h.primary(2)
		b := h.connect(eid(1))
		b.wantArbitration(codes.AlreadyExists, eid(2))
		b.arbitrate(deviceID, eid(2))
		b.wantClosed(codes.InvalidArgument)
	})
	t.Run("role name", func(t *testing.T) {
		h := newHarness(t)
		s := h.open()
		s.send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{Arbitration: &p4v1.MasterArbitrationUpdate{
			DeviceId: deviceID, ElectionId: eid(1), Role: &p4v1.Role{Name: "sdn"}}}})
		s.wantClosed(codes.Unimplemented)
	})
	t.Run("role change on a live stream", func(t *testing.T) {
		h := newHarness(t)
		s := h.primary(1)
		s.send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{Arbitration: &p4v1.MasterArbitrationUpdate{
			DeviceId: deviceID, ElectionId: eid(1), Role: &p4v1.Role{Name: "sdn"}}}})
		s.wantClosed(codes.FailedPrecondition)
	})
	t.Run("role config on the default role", func(t *testing.T) {
		h := newHarness(t)
		s := h.open()
		s.send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{Arbitration: &p4v1.MasterArbitrationUpdate{
			DeviceId: deviceID, ElectionId: eid(1), Role: &p4v1.Role{Config: &anypb.Any{TypeUrl: "x"}}}}})
		s.wantClosed(codes.InvalidArgument)
	})
	t.Run("empty default role", func(t *testing.T) {
		h := newHarness(t)
		s := h.open()
		s.send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{Arbitration: &p4v1.MasterArbitrationUpdate{
			DeviceId: deviceID, ElectionId: eid(1), Role: &p4v1.Role{}}}})
		s.wantArbitration(codes.OK, eid(1))
	})
}
