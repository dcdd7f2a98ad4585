// SPDX-License-Identifier: Apache-2.0

// Package p4rtserver is a P4Runtime v1 gRPC server for one device whose
// data plane is the Go software model (package swmodel): the software
// switch a controller talks to exactly as it talks to bmv2 or a hardware
// target. It implements client arbitration (P4Runtime spec §5), Write,
// Read, Set/GetForwardingPipelineConfig, Capabilities and packet-out on
// the stream channel, and accepts only the symdist pipeline (package
// p4info). README.md lists what is and is not supported, with the status
// codes.
package p4rtserver

import (
	"context"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/symdist/symdist/internal/limitlog"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swmodel"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// APIVersion is the P4Runtime API version the server implements, as
// Capabilities reports it.
const APIVersion = "1.4.1"

// Limits of the server. Past each, a request fails with RESOURCE_EXHAUSTED.
const (
	// MaxRecvMsgSize bounds one request (ServerOptions). The spec asks for
	// at least gRPC's default of 4 MiB.
	MaxRecvMsgSize = 64 << 20
	// MaxUpdatesPerWrite bounds the updates of one WriteRequest: twice
	// what the pipeline's tables, members and groups can hold at once.
	MaxUpdatesPerWrite = 1 << 17
	// MaxControllers bounds the arbitrated streams with an election_id.
	MaxControllers = 256
	// MaxObservers bounds, apart, the arbitrated streams without one:
	// they can never be primary, and however many are open, a controller
	// with an election_id still finds a place.
	MaxObservers = 64
	// MaxUnarbitrated bounds the streams that have not yet sent an
	// accepted arbitration message. A new stream always gets a place: past
	// the limit the oldest of them is ended with RESOURCE_EXHAUSTED, so
	// that a peer holding many cannot lock a controller out (it would have
	// to open MaxUnarbitrated streams between the controller's stream and
	// its first message). Each also has DefaultArbitrationTimeout to
	// arbitrate.
	MaxUnarbitrated = 64
	// MaxStreams is how many StreamChannels the server holds at most.
	MaxStreams = MaxControllers + MaxObservers + MaxUnarbitrated
	// MaxConcurrentReads bounds the Reads in progress, each of which holds
	// a bounded amount of memory (see Read). One more waits up to
	// readSlotWait for a slot. The primary controller's Reads don't count.
	MaxConcurrentReads = 16
	// MaxReadsPerPeer bounds, within MaxConcurrentReads, the Reads in
	// progress on one connection (peer address), so that a client that
	// leaves its Reads unread holds up only its own.
	MaxReadsPerPeer = 4
	// MaxWritesNotFromPrimary bounds the Write and
	// SetForwardingPipelineConfig calls in flight that do not come on the
	// primary controller's connection: each may be a MaxRecvMsgSize
	// message, decoded before its election_id is checked. Past it they are
	// refused before their message is read (see ServerOptions). The
	// primary's don't count.
	MaxWritesNotFromPrimary = 1
)

// DefaultArbitrationTimeout is how long a new stream has to send an
// arbitration message the server accepts; then it ends with
// DEADLINE_EXCEEDED.
const DefaultArbitrationTimeout = 10 * time.Second

// Config configures a Server.
type Config struct {
	// DeviceID is the P4Runtime device_id served, 0 included: the spec
	// (§5.1) says a device_id is never 0, but 0 is bmv2's default and
	// controllers written for bmv2 use it.
	DeviceID uint64
	// Logger receives arbitration changes, rejected stream messages and
	// recovered panics. Nil discards them.
	Logger *slog.Logger
	// Inject receives each valid PacketOut of the primary as the frame the
	// pipeline expects on port swmodel.CPUPort: the packet_out header built
	// from the metadata, then the payload. The owner runs it through
	// Pipeline().Process. Nil drops packet-outs. The frame is not reused by
	// the server.
	Inject func(port uint16, frame []byte)
	// ArbitrationTimeout is how long a new stream has to arbitrate;
	// DefaultArbitrationTimeout when 0.
	ArbitrationTimeout time.Duration
}

// Server serves one P4Runtime device backed by a swmodel.Pipeline. It
// holds no pipeline until a controller sets the forwarding pipeline
// config. All its methods are safe for concurrent use.
type Server struct {
	p4v1.UnimplementedP4RuntimeServer

	deviceID uint64
	log      *slog.Logger
	inject   func(port uint16, frame []byte)
	schema   *p4info.Schema     // the embedded pipeline's
	want     *p4configv1.P4Info // canonical form of schema.Info
	out      *headerLayout      // packet_out, from schema.Info

	arbTimeout time.Duration
	refused    *prometheus.CounterVec
	limits     *limitlog.Limiter // log lines per peer

	// mu guards the arbitration state.
	mu      sync.Mutex
	conns   map[*conn]struct{} // arbitrated streams
	waiting map[*conn]struct{} // streams not yet arbitrated
	highest electionID         // the highest election_id ever received
	hasHigh bool               // whether highest has been set

	// cfgMu serialises SetForwardingPipelineConfig and guards cfg, saved.
	cfgMu sync.Mutex
	cfg   *p4v1.ForwardingPipelineConfig // as last saved or committed
	saved bool                           // VERIFY_AND_SAVE not yet committed
	pipe  atomic.Pointer[swmodel.Pipeline]

	reads    readSlots
	writes   atomic.Int32  // Writes in flight not from the primary
	stop     chan struct{} // closed by Shutdown
	stopOnce sync.Once
}

// New returns a server for cfg.DeviceID, with no pipeline yet.
func New(cfg Config) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	schema := p4info.MustLoad()
	out, err := newHeaderLayout(schema.Info, p4info.PacketMetadataPacketOut)
	if err != nil {
		panic(err) // the embedded P4Info is tested to have a packet_out header
	}
	arbTimeout := cfg.ArbitrationTimeout
	if arbTimeout <= 0 {
		arbTimeout = DefaultArbitrationTimeout
	}
	return &Server{
		deviceID:   cfg.DeviceID,
		log:        log.With("device_id", cfg.DeviceID),
		inject:     cfg.Inject,
		schema:     schema,
		want:       canonicalP4Info(schema.Info),
		out:        out,
		arbTimeout: arbTimeout,
		refused:    newRefused(),
		limits:     limitlog.New(logInterval),
		conns:      map[*conn]struct{}{},
		waiting:    map[*conn]struct{}{},
		reads:      newReadSlots(),
		stop:       make(chan struct{}),
	}
}

// Register registers the P4Runtime service on g.
func (s *Server) Register(g *grpc.Server) {
	p4v1.RegisterP4RuntimeServer(g, s)
}

// ServerOptions are the gRPC server options the P4Runtime service needs:
// a receive limit of MaxRecvMsgSize, a tap that refuses a Write or
// SetForwardingPipelineConfig past MaxWritesNotFromPrimary before its
// message is read, keepalives so that a controller that vanishes loses
// its stream (and primary status) within a minute, and interceptors that
// turn a panic in a handler into INTERNAL. The handlers are written never
// to panic; the interceptors are the last resort.
func (s *Server) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxRecvMsgSize),
		grpc.InTapHandle(s.tap),
		grpc.MaxConcurrentStreams(4 * MaxControllers),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(s.recoverUnary),
		grpc.ChainStreamInterceptor(s.recoverStream),
	}
}

// Pipeline returns the device's pipeline, or nil before a forwarding
// pipeline config was set. It stays the same Pipeline once set: a new
// config resets it.
func (s *Server) Pipeline() *swmodel.Pipeline { return s.pipe.Load() }

// DeviceID returns the device_id served.
func (s *Server) DeviceID() uint64 { return s.deviceID }

// Capabilities reports the P4Runtime API version. (Its request has no
// device_id in P4Runtime 1.4.)
func (s *Server) Capabilities(context.Context, *p4v1.CapabilitiesRequest) (*p4v1.CapabilitiesResponse, error) {
	return &p4v1.CapabilitiesResponse{P4RuntimeApiVersion: APIVersion}, nil
}

// checkTarget checks a request's device_id and role: the device served,
// and the default role, the only one.
func (s *Server) checkTarget(deviceID uint64, role string) error {
	if deviceID != s.deviceID {
		return status.Errorf(codes.NotFound, "unknown device_id %d (this is device %d)", deviceID, s.deviceID)
	}
	if role != "" {
		return status.Errorf(codes.NotFound, "unknown role %q: only the default role is served", role)
	}
	return nil
}

func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("p4rtserver: panic in handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			resp, err = nil, status.Errorf(codes.Internal, "internal error in %s", info.FullMethod)
		}
	}()
	return handler(ctx, req)
}

func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("p4rtserver: panic in handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			err = status.Errorf(codes.Internal, "internal error in %s", info.FullMethod)
		}
	}()
	return handler(srv, ss)
}
