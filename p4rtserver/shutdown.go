// SPDX-License-Identifier: Apache-2.0

package p4rtserver

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errShuttingDown ends the streams and Reads of a server that shuts down.
var errShuttingDown = status.Error(codes.Unavailable, "the switch is shutting down")

// Shutdown ends every open StreamChannel with UNAVAILABLE, so that each
// controller sees its stream close (and its primary role end) at once,
// stops Reads before their next response, and refuses new streams and
// Reads. Other RPCs still complete. It may be called more than once.
func (s *Server) Shutdown() {
	s.stopOnce.Do(func() { close(s.stop) })
}

// Stop stops g, which serves s: Shutdown, then g.GracefulStop, and g.Stop
// if RPCs are still running after grace (a Read whose client stopped
// reading, a unary call stuck in flow control).
func (s *Server) Stop(g *grpc.Server, grace time.Duration) {
	s.Shutdown()
	done := make(chan struct{})
	go func() {
		g.GracefulStop()
		close(done)
	}()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		s.log.Warn("p4rtserver: RPCs still running after the grace period, closing them", "grace", grace)
		g.Stop()
		<-done
	}
}
