// SPDX-License-Identifier: Apache-2.0

package p4rtserver

import (
	"context"
	"sync"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// A ReadResponse carries at most readBatch entities and about
// readBatchBytes, well under a gRPC client's default 4 MiB limit.
const (
	readBatch      = 1000
	readBatchBytes = 1 << 20
)

// readSlotWait is how long a Read waits for one of the MaxConcurrentReads
// slots before it fails with RESOURCE_EXHAUSTED.
const readSlotWait = 5 * time.Second

// Read streams the entities matching each entity of the request (spec
// §11): wildcards and filters as swmodel.Pipeline.Read describes them. The
// model takes a snapshot of each request entity's matches (pointers) and
// hands over clones one at a time without holding the pipeline; they are
// sent as they come, at most readBatch a response. So a Read holds a
// pointer per match and a response or two, however much it matches, and a
// client that stops reading holds up only its own Read (gRPC flow control
// stops Send). A cancelled Read stops before its next response. At most
// MaxConcurrentReads run at once, MaxReadsPerPeer on one connection (the
// primary controller's don't count).
// The first failing request entity ends the read with the model's status,
// as it is.
func (s *Server) Read(req *p4v1.ReadRequest, stream p4v1.P4Runtime_ReadServer) error {
	if err := s.checkTarget(req.GetDeviceId(), req.GetRole()); err != nil {
		return err
	}
	p := s.pipe.Load()
	if p == nil {
		return status.Error(codes.FailedPrecondition, "no forwarding pipeline config has been set")
	}
	ctx := stream.Context()
	release, err := s.readSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	out := &readSender{ctx: ctx, stop: s.stop, send: stream.Send, resp: &p4v1.ReadResponse{}}
	for i, e := range req.GetEntities() {
		if err := out.live(); err != nil {
			return err
		}
		if e.GetEntity() == nil {
			return status.Errorf(codes.InvalidArgument, "entity %d has no type", i)
		}
		if err := p.Read(e, out.add); err != nil {
			return err
		}
	}
	return out.flush()
}

// readSlots are the places of Reads in progress: MaxConcurrentReads in
// all, MaxReadsPerPeer on one connection.
type readSlots struct {
	all   chan struct{}
	mu    sync.Mutex
	peers map[string]*peerReads
}

// peerReads are one connection's places, forgotten when nobody holds or
// waits for one.
type peerReads struct {
	slots chan struct{}
	users int
}

func newReadSlots() readSlots {
	return readSlots{all: make(chan struct{}, MaxConcurrentReads), peers: map[string]*peerReads{}}
}

func (r *readSlots) peer(addr string) *peerReads {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.peers[addr]
	if p == nil {
		p = &peerReads{slots: make(chan struct{}, MaxReadsPerPeer)}
		r.peers[addr] = p
	}
	p.users++
	return p
}

func (r *readSlots) done(addr string, p *peerReads) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.users--; p.users == 0 {
		delete(r.peers, addr)
	}
}

// readSlot takes one of its connection's MaxReadsPerPeer places, then
// one of the MaxConcurrentReads, waiting up to readSlotWait in all, and
// returns its release. A Read on the primary controller's connection
// takes none: however many Reads others leave unread, the primary can
// read. A client that leaves Reads unread takes at most MaxReadsPerPeer
// places per connection, so another client (`symdist verify state`) is
// still served.
func (s *Server) readSlot(ctx context.Context) (func(), error) {
	if s.fromPrimary(ctx) {
		return func() {}, nil
	}
	addr := ""
	if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
		addr = pr.Addr.String()
	}
	p := s.reads.peer(addr)
	timer := time.NewTimer(readSlotWait)
	defer timer.Stop()
	fail := func(err error) (func(), error) {
		s.reads.done(addr, p)
		return nil, err
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return fail(status.FromContextError(ctx.Err()).Err())
	case <-s.stop:
		return fail(errShuttingDown)
	case <-timer.C:
		s.refuse(reasonReadsPerPeer, addr, "p4rtserver: Read refused: too many in progress on the connection", "limit", MaxReadsPerPeer)
		return fail(status.Errorf(codes.ResourceExhausted, "%d Reads are in progress on this connection: read their answers, or try again later", MaxReadsPerPeer))
	}
	select {
	case s.reads.all <- struct{}{}:
		return func() {
			<-s.reads.all
			<-p.slots
			s.reads.done(addr, p)
		}, nil
	case <-ctx.Done():
		<-p.slots
		return fail(status.FromContextError(ctx.Err()).Err())
	case <-s.stop:
		<-p.slots
		return fail(errShuttingDown)
	case <-timer.C:
		<-p.slots
		s.refuse(reasonReads, addr, "p4rtserver: Read refused: too many in progress", "limit", MaxConcurrentReads)
		return fail(status.Errorf(codes.ResourceExhausted, "%d Reads are in progress: try again later", MaxConcurrentReads))
	}
}

// fromPrimary reports whether ctx's RPC came on the connection of the
// primary controller's stream.
func (s *Server) fromPrimary(ctx context.Context) bool {
	pr, ok := peer.FromContext(ctx)
	if !ok || pr.Addr == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.primaryLocked()
	return c != nil && c.peer != "" && c.peer == pr.Addr.String()
}

// readSender batches the entities of a Read into ReadResponses and sends
// each as soon as it is full.
type readSender struct {
	ctx  context.Context
	stop <-chan struct{}
	send func(*p4v1.ReadResponse) error
	resp *p4v1.ReadResponse
	size int
}

// live returns why the Read must stop (cancelled, or the server is
// shutting down), or nil.
func (r *readSender) live() error {
	if err := r.ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	select {
	case <-r.stop:
		return errShuttingDown
	default:
		return nil
	}
}

func (r *readSender) add(x *p4v1.Entity) error {
	n := proto.Size(x)
	if len(r.resp.Entities) == readBatch || r.size+n > readBatchBytes {
		if err := r.flush(); err != nil {
			return err
		}
	}
	r.resp.Entities = append(r.resp.Entities, x)
	r.size += n
	return nil
}

func (r *readSender) flush() error {
	if len(r.resp.Entities) == 0 {
		return nil
	}
	if err := r.live(); err != nil {
		return err
	}
	err := r.send(r.resp)
	r.resp, r.size = &p4v1.ReadResponse{}, 0
	return err
}
