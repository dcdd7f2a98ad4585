// SPDX-License-Identifier: Apache-2.0

package p4rtserver

import (
	"errors"
	"io"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/swmodel"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// StreamChannel is a controller's session: arbitration, packet-out, and
// the server's notifications and packet-ins. Its goroutine is the only
// one sending on the stream; a second goroutine receives. A stream that
// has not arbitrated within the ArbitrationTimeout ends with
// DEADLINE_EXCEEDED; past MaxUnarbitrated such streams, the oldest ends
// with RESOURCE_EXHAUSTED.
func (s *Server) StreamChannel(stream p4v1.P4Runtime_StreamChannelServer) error {
	ctx := stream.Context()
	peerAddr := ""
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		peerAddr = p.Addr.String()
	}
	c := newConn(peerAddr)
	defer s.disconnect(c)
	select {
	case <-s.stop:
		return errShuttingDown
	default:
	}
	s.admit(c)
	arbTimer := time.NewTimer(s.arbTimeout)
	defer arbTimer.Stop()
	arbDeadline := arbTimer.C // nil once arbitrated

	reqs := make(chan *p4v1.StreamMessageRequest)
	recvErr := make(chan error, 1)
	go func() {
		for {
			req, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case reqs <- req:
			case <-ctx.Done():
				return
			}
		}
	}()

	for {
		// Notifications first, so that replies keep the order of requests.
		select {
		case m := <-c.ctrl:
			if err := stream.Send(m); err != nil {
				return err
			}
			continue
		default:
		}
		select {
		case req := <-reqs:
			if err := s.handleStreamRequest(c, req, stream.Send); err != nil {
				return err
			}
			if arbDeadline != nil && s.arbitrated(c) {
				arbDeadline = nil
			}
		case <-arbDeadline:
			if err := s.expire(c); err != nil {
				return err
			}
			arbDeadline = nil
		case <-c.evicted:
			return errEvicted
		case m := <-c.ctrl:
			if err := stream.Send(m); err != nil {
				return err
			}
		case m := <-c.packets:
			if err := stream.Send(m); err != nil {
				return err
			}
		case <-c.overflow:
			return status.Errorf(codes.ResourceExhausted, "the controller left %d notifications unread", ctrlQueue)
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-s.stop:
			return errShuttingDown
		}
	}
}

// arbitrated reports whether c has arbitrated.
func (s *Server) arbitrated(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.arbitrated
}

// maxEcho bounds the packet-out a StreamError copies back: a bigger one
// could exceed what the client accepts in one message.
const maxEcho = 64 << 10

// handleStreamRequest handles one message from the controller. Arbitration
// errors end the stream (returned); the others are reported with a
// StreamError (spec §16.6) and the stream goes on.
func (s *Server) handleStreamRequest(c *conn, req *p4v1.StreamMessageRequest, send func(*p4v1.StreamMessageResponse) error) error {
	se := &p4v1.StreamError{}
	switch u := req.GetUpdate().(type) {
	case *p4v1.StreamMessageRequest_Arbitration:
		return s.arbitrate(c, u.Arbitration)
	case *p4v1.StreamMessageRequest_Packet:
		err := s.packetOut(c, u.Packet)
		if err == nil {
			return nil
		}
		st := status.Convert(err)
		se.CanonicalCode, se.Message = int32(st.Code()), st.Message()
		pe := &p4v1.PacketOutError{}
		if proto.Size(u.Packet) <= maxEcho {
			pe.PacketOut = u.Packet
		}
		se.Details = &p4v1.StreamError_PacketOut{PacketOut: pe}
	case *p4v1.StreamMessageRequest_DigestAck:
		se.CanonicalCode = int32(codes.InvalidArgument)
		se.Message = "this pipeline has no digests"
		se.Details = &p4v1.StreamError_DigestListAck{DigestListAck: &p4v1.DigestListAckError{DigestListAck: u.DigestAck}}
	case *p4v1.StreamMessageRequest_Other:
		se.CanonicalCode = int32(codes.Unimplemented)
		se.Message = "unsupported stream message " + u.Other.GetTypeUrl()
		se.Details = &p4v1.StreamError_Other{Other: &p4v1.StreamOtherError{Other: u.Other}}
	default:
		se.CanonicalCode = int32(codes.InvalidArgument)
		se.Message = "empty stream message"
		se.Details = &p4v1.StreamError_Other{Other: &p4v1.StreamOtherError{}}
	}
	s.log.Debug("p4rtserver: stream message rejected", "peer", c.peer, "code", codes.Code(se.CanonicalCode), "message", se.Message)
	return send(&p4v1.StreamMessageResponse{Update: &p4v1.StreamMessageResponse_Error{Error: se}})
}

// packetOut injects a PacketOut of the primary into the pipeline.
func (s *Server) packetOut(c *conn, p *p4v1.PacketOut) error {
	s.mu.Lock()
	primary := s.isPrimaryLocked(c)
	s.mu.Unlock()
	if !primary {
		return status.Error(codes.PermissionDenied, "only the primary controller may send packet-outs")
	}
	if s.pipe.Load() == nil {
		return status.Error(codes.FailedPrecondition, "no forwarding pipeline config has been set")
	}
	hdr, err := s.out.encode(p.GetMetadata())
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "packet_out metadata: %v", err)
	}
	if s.inject != nil {
		s.inject(swmodel.CPUPort, append(hdr, p.GetPayload()...))
	}
	return nil
}

// SendPacketIn sends frame, with metadata, to the primary controller as a
// PacketIn. It reports false when there is no primary or the primary's
// queue is full, and the packet-in is dropped. frame and metadata are
// copied: the caller may reuse them.
func (s *Server) SendPacketIn(frame []byte, metadata ...*p4v1.PacketMetadata) bool {
	pin := &p4v1.PacketIn{Payload: append([]byte(nil), frame...)}
	for _, m := range metadata {
		if m == nil {
			continue
		}
		pin.Metadata = append(pin.Metadata, proto.Clone(m).(*p4v1.PacketMetadata))
	}
	s.mu.Lock()
	c := s.primaryLocked()
	s.mu.Unlock()
	if c == nil {
		return false
	}
	select {
	case c.packets <- &p4v1.StreamMessageResponse{Update: &p4v1.StreamMessageResponse_Packet{Packet: pin}}:
		return true
	default:
		s.log.Debug("p4rtserver: packet-in dropped, queue full", "peer", c.peer)
		return false
	}
}
