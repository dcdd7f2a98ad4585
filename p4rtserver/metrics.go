// SPDX-License-Identifier: Apache-2.0

package p4rtserver

import (
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Why the server refused something, the reason label of
// symdist_p4runtime_server_refused_total.
const (
	reasonControllers        = "controllers"          // MaxControllers streams with an election_id
	reasonObservers          = "observers"            // MaxObservers streams without one
	reasonUnarbitrated       = "unarbitrated_streams" // MaxUnarbitrated: the oldest ended
	reasonArbitrationTimeout = "arbitration_timeout"  // no arbitration message in time
	reasonWrites             = "writes_not_primary"   // MaxWritesNotFromPrimary in flight
	reasonReadsPerPeer       = "reads_per_peer"       // MaxReadsPerPeer in progress
	reasonReads              = "reads"                // MaxConcurrentReads in progress
)

// logInterval is how often a line about one peer's refusals (or repeated
// arbitration messages) may be logged; the events between are counted in
// the next line.
const logInterval = 10 * time.Second

// newRefused returns the counter of refusals, by reason, with every
// reason at 0 so that a scrape shows them before the first.
func newRefused() *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "symdist_p4runtime_server_refused_total",
		Help: "Streams and requests the P4Runtime server refused or ended to stay within its limits, by reason.",
	}, []string{"reason"})
	for _, r := range []string{reasonControllers, reasonObservers, reasonUnarbitrated, reasonArbitrationTimeout,
		reasonWrites, reasonReadsPerPeer, reasonReads} {
		v.WithLabelValues(r)
	}
	return v
}

// Collectors are the server's Prometheus metrics, for the owner's
// registry (`symdist switch --metrics`).
func (s *Server) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.refused}
}

// refuse counts a refusal for reason and logs it at most once per
// logInterval for the peer's host: a peer opening connection after
// connection gets one line, not one per connection.
func (s *Server) refuse(reason, peer, msg string, args ...any) {
	s.refused.WithLabelValues(reason).Inc()
	host := peerHost(peer)
	s.limits.Log(s.log, slog.LevelWarn, reason+"|"+host, msg, append(args, "reason", reason, "peer", host)...)
}

// peerHost is the host of a peer address host:port, or the address as it
// is when it has no port.
func peerHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
