// SPDX-License-Identifier: Apache-2.0

package p4rtserver

import (
	"context"
	"fmt"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/types/known/anypb"
)

// tap runs when a call's headers arrive, before its message is read. It
// admits a Write or SetForwardingPipelineConfig on the primary
// controller's connection, and up to MaxWritesNotFromPrimary others in
// flight: gRPC reads and decodes a message of up to MaxRecvMsgSize (about
// 3.5 times its size in memory) before the handler can see that its
// election_id is not the primary's, so without a bound, concurrent large
// calls from anyone multiply memory. Past the bound a call ends with
// RESOURCE_EXHAUSTED before its message is read. A slot is freed when its
// call ends (its context is done). The tap runs on the connection's
// reader, so it never waits.
func (s *Server) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	switch info.FullMethodName {
	case p4v1.P4Runtime_Write_FullMethodName, p4v1.P4Runtime_SetForwardingPipelineConfig_FullMethodName:
	default:
		return ctx, nil
	}
	if s.fromPrimary(ctx) {
		return ctx, nil
	}
	if s.writes.Add(1) > MaxWritesNotFromPrimary {
		s.writes.Add(-1)
		addr := ""
		if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
			addr = p.Addr.String()
		}
		s.refuse(reasonWrites, addr, "p4rtserver: call refused before it was read: too many in flight not from the primary's connection",
			"method", info.FullMethodName, "limit", MaxWritesNotFromPrimary)
		return ctx, status.Errorf(codes.ResourceExhausted,
			"%d Write or SetForwardingPipelineConfig calls not on the primary controller's connection are in flight: try again later", MaxWritesNotFromPrimary)
	}
	context.AfterFunc(ctx, func() { s.writes.Add(-1) })
	return ctx, nil
}

// maxErrorDetails bounds the status of a failed batch: past it the
// per-update messages are left out and only the codes remain, so that the
// trailer stays within what a gRPC client accepts.
const maxErrorDetails = 4 << 20

// Write applies a batch of updates (spec §12) with CONTINUE_ON_ERROR
// semantics, in order. The checks come in the spec's order: device and
// role (NOT_FOUND), primary (PERMISSION_DENIED), pipeline
// (FAILED_PRECONDITION), then atomicity (UNIMPLEMENTED) and batch size
// (RESOURCE_EXHAUSTED). When an update fails, the status is UNKNOWN with
// one p4.v1.Error per update in its details.
func (s *Server) Write(_ context.Context, req *p4v1.WriteRequest) (*p4v1.WriteResponse, error) {
	if err := s.checkTarget(req.GetDeviceId(), req.GetRole()); err != nil {
		return nil, err
	}
	if err := s.checkPrimary(req.GetElectionId()); err != nil {
		return nil, err
	}
	p := s.pipe.Load()
	if p == nil {
		return nil, status.Error(codes.FailedPrecondition, "no forwarding pipeline config has been set")
	}
	switch a := req.GetAtomicity(); a {
	case p4v1.WriteRequest_CONTINUE_ON_ERROR:
	case p4v1.WriteRequest_ROLLBACK_ON_ERROR, p4v1.WriteRequest_DATAPLANE_ATOMIC:
		return nil, status.Errorf(codes.Unimplemented, "atomicity %v: only CONTINUE_ON_ERROR is supported", a)
	default:
		return nil, status.Errorf(codes.InvalidArgument, "unknown atomicity %d", a)
	}
	updates := req.GetUpdates()
	if len(updates) > MaxUpdatesPerWrite {
		return nil, status.Errorf(codes.ResourceExhausted, "%d updates in one batch, at most %d", len(updates), MaxUpdatesPerWrite)
	}

	errs := make([]error, len(updates))
	pass := make([]*p4v1.Update, 0, len(updates))
	index := make([]int, 0, len(updates))
	for i, u := range updates {
		if err := precheck(u); err != nil {
			errs[i] = err
			continue
		}
		pass = append(pass, u)
		index = append(index, i)
	}
	for j, err := range p.Write(pass) {
		errs[index[j]] = err
	}
	if err := batchError(errs); err != nil {
		return nil, err
	}
	return &p4v1.WriteResponse{}, nil
}

// precheck rejects what the spec calls invalid but the model would take
// or report with another code: an entity with no type (INVALID_ARGUMENT,
// §11.2) and action-profile member ID 0 (§9.2.1).
func precheck(u *p4v1.Update) error {
	e := u.GetEntity()
	if e != nil && e.GetEntity() == nil {
		return status.Error(codes.InvalidArgument, "entity has no type")
	}
	if m := e.GetActionProfileMember(); m != nil && m.GetMemberId() == 0 {
		return status.Error(codes.InvalidArgument, "action-profile member ID 0")
	}
	return nil
}

// batchError is the status of a batch whose updates ended with errs (spec
// §12.3): nil when all succeeded, else UNKNOWN with one p4.v1.Error per
// update, in order, canonical_code 0 for those that succeeded.
func batchError(errs []error) error {
	failed, size := 0, 0
	sts := make([]*status.Status, len(errs))
	for i, err := range errs {
		if err != nil {
			failed++
			sts[i] = status.Convert(err)
			size += len(sts[i].Message())
		}
	}
	if failed == 0 {
		return nil
	}
	msg := fmt.Sprintf("%d of %d updates failed", failed, len(errs))
	messages := size+len(errs)*perErrorSize <= maxErrorDetails
	if !messages {
		msg += " (messages left out: too many)"
	}
	st := &spb.Status{Code: int32(codes.Unknown), Message: msg, Details: make([]*anypb.Any, len(errs))}
	// Most failures of a large batch are alike: encode each kind once.
	type kind struct {
		code codes.Code
		msg  string
	}
	seen := map[kind]*anypb.Any{}
	for i, s := range sts {
		var k kind
		if s != nil {
			k.code = s.Code()
			if messages {
				k.msg = s.Message()
			}
		}
		a := seen[k]
		if a == nil {
			var err error
			a, err = anypb.New(&p4v1.Error{CanonicalCode: int32(k.code), Message: k.msg})
			if err != nil {
				return status.Errorf(codes.Internal, "%s, and the errors cannot be encoded: %v", msg, err)
			}
			seen[k] = a
		}
		st.Details[i] = a
	}
	return status.FromProto(st).Err()
}

// perErrorSize is about what a p4.v1.Error in an Any takes, message
// aside.
const perErrorSize = 48
