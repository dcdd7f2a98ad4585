// SPDX-License-Identifier: Apache-2.0

package swswitch

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
)

// Config is a software switch for Listen to start.
type Config struct {
	// Addr is the P4Runtime listen address; "127.0.0.1:0" (a free port on
	// loopback) when empty.
	Addr     string
	DeviceID uint64
	// Ports by number; the switch reads them until Stop and then closes
	// them (also when Listen fails).
	Ports map[uint16]Port
	// ServerOptions are added to the P4Runtime server's own: TLS
	// credentials, a test's interceptors.
	ServerOptions []grpc.ServerOption
	Log           *slog.Logger // nil: discarded
	// StopGrace is how long Stop lets open RPCs finish before it closes
	// them; DefaultStopGrace when 0.
	StopGrace time.Duration
}

// DefaultStopGrace is how long Stop waits for RPCs by default: long
// enough for a Write in flight, short enough for a service manager's
// stop timeout.
const DefaultStopGrace = 2 * time.Second

// Served is a software switch serving P4Runtime: the one way to run one,
// for `symdist switch`, the demo, the lab, benchmarks and tests.
type Served struct {
	*Switch
	ln       net.Listener
	gs       *grpc.Server
	grace    time.Duration
	cancel   context.CancelFunc
	done     chan struct{} // the data plane ended
	stopOnce sync.Once
}

// Listen starts the switch c describes: P4Runtime served on c.Addr and
// every port read. It returns once the address is listening.
func Listen(c Config) (*Served, error) {
	log := c.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	addr := c.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		for _, p := range c.Ports {
			p.Close()
		}
		return nil, err
	}
	sw := New(c.DeviceID, c.Ports, log)
	s := &Served{Switch: sw, ln: ln, grace: c.StopGrace, done: make(chan struct{})}
	if s.grace == 0 {
		s.grace = DefaultStopGrace
	}
	s.gs = grpc.NewServer(append(sw.Server().ServerOptions(), c.ServerOptions...)...)
	sw.Server().Register(s.gs)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { _ = s.gs.Serve(ln) }()
	go func() { _ = sw.Run(ctx); close(s.done) }()
	return s, nil
}

// Addr is the address P4Runtime is served on.
func (s *Served) Addr() string { return s.ln.Addr().String() }

// Stop shuts the switch down as an operator's SIGTERM does: open
// P4Runtime streams are ended with a status saying so, RPCs in flight get
// the grace period, then the ports stop and are closed. It returns when
// all of that is done; calling it again does nothing.
func (s *Served) Stop() {
	s.stopOnce.Do(func() {
		s.Server().Stop(s.gs, s.grace)
		s.cancel()
		<-s.done
	})
}

// Kill stops the switch at once, as a crash would: connections are cut
// without a word, then the ports close. Tests of failure use it.
func (s *Served) Kill() {
	s.stopOnce.Do(func() {
		s.gs.Stop()
		s.cancel()
		<-s.done
	})
}

// Stall is the failure `symdist switch` once had on SIGTERM, kept for the
// controller's liveness tests: the ports close and the server stops taking
// RPCs, but open streams are left hanging, so only a liveness probe can
// tell that the switch is gone. Stop or Kill still end it.
func (s *Served) Stall() {
	s.cancel()
	go s.gs.GracefulStop()
}
