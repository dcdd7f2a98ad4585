// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"sync/atomic"
	"time"
)

type counters struct {
	accepted, active, completed, failed atomic.Int64
	idleTimeouts, aborted               atomic.Int64
	c2s, s2c                            atomic.Int64
	selfConns, otherConns               atomic.Int64
	retries, held                       atomic.Int64
	waited, waitTimeouts                atomic.Int64
}

// Stats is what GET /stats returns.
type Stats struct {
	TM   string `json:"tm"`
	SNAT string `json:"snat"`
	// Mode is "self-ports", or "kernel-ports" with --self-ports=false.
	Mode        string         `json:"mode"`
	Connections ConnStats      `json:"connections"`
	Bytes       ByteStats      `json:"bytes"`
	SelfPorts   PortStats      `json:"self_ports"`
	Limits      LimitStats     `json:"limits"`
	Buckets     BucketStats    `json:"buckets"`
	Backends    []BackendStats `json:"backends"`
}

// ConnStats counts client connections. Accepted = Active + Completed +
// Failed once the counters are still.
type ConnStats struct {
	Accepted int64 `json:"accepted"`
	Active   int64 `json:"active"`
	// Completed connections reached a backend and have ended (whichever
	// way: IdleTimeouts and Aborted are among them).
	Completed int64 `json:"completed"`
	// Failed connections reached no backend (connect error, no free
	// self port, shutdown, the per-client limit).
	Failed int64 `json:"failed"`
	// RefusedClientLimit: reset at once because their client address
	// held MaxConnsPerClient connections (among Failed).
	RefusedClientLimit int64 `json:"refused_client_limit"`
	// RefusedFDLimit: reset at once because the connections open used
	// the file descriptor budget (LimitStats.MaxConns; among Failed).
	RefusedFDLimit int64 `json:"refused_fd_limit"`
	IdleTimeouts   int64 `json:"idle_timeouts"`
	// Aborted: ended by an error (reset, write failure) or by shutdown
	// after the grace period, not by a close or idle timeout.
	Aborted int64 `json:"aborted"`
	// WaitedForPort counts connections held for a self port (none was
	// usable: --hold), PortWaitTimeouts those that got none in time.
	WaitedForPort    int64 `json:"waited_for_port"`
	PortWaitTimeouts int64 `json:"port_wait_timeouts"`
}

// ByteStats counts bytes proxied (written to the other side).
type ByteStats struct {
	ClientToServer int64 `json:"client_to_server"`
	ServerToClient int64 `json:"server_to_client"`
}

// PortStats is the self-source port table and its use.
type PortStats struct {
	// Table is the number of self ports (0 without a bucket table), Free
	// those neither in use nor held.
	Table int `json:"table"`
	Free  int `json:"free"`
	// InUse = Table - Free (in use or held); Occupancy = InUse / Table.
	// High is true from 80% occupancy until it is back under 70%;
	// HighCrossings counts the times it went up.
	InUse         int     `json:"in_use"`
	Occupancy     float64 `json:"occupancy"`
	High          bool    `json:"high"`
	HighCrossings int64   `json:"high_crossings"`
	// Held ports are set aside for a while because another socket holds
	// them (bind failed with EADDRINUSE).
	Held int64 `json:"held"`
	// Connections counts backend connections whose source port was a
	// self port greater than the server's port (their replies come back
	// to this TM); OtherConnections those whose port was not (only with
	// --self-ports=false).
	Connections      int64 `json:"connections"`
	OtherConnections int64 `json:"other_connections"`
	// Retries counts self ports the kernel refused as busy, each followed
	// by a try with the next port: EADDRINUSE at bind (then held), or
	// EADDRNOTAVAIL at connect (the 4-tuple to that server still exists,
	// e.g. in TIME_WAIT).
	Retries int64 `json:"retries"`
}

// LimitStats is how the port budget is guarded.
type LimitStats struct {
	MaxConnsPerClient int `json:"max_conns_per_client"` // 0: no limit
	Clients           int `json:"clients"`              // client addresses with a connection now
	// IdleTimeout is the configured one, IdleTimeoutNow the one in
	// force (BusyIdleTimeout while ports are short), in seconds; 0:
	// never.
	IdleTimeout    float64 `json:"idle_timeout_seconds"`
	IdleTimeoutNow float64 `json:"idle_timeout_now_seconds"`
	// FDLimit is RLIMIT_NOFILE as read at start (0: unknown), MaxConns
	// the connections it leaves room for (0: no bound; docs/tm.md), and
	// FDOccupancy = Active / MaxConns. From 80% of either it or the self
	// ports, idle connections time out after BusyIdleTimeout.
	FDLimit     uint64  `json:"fd_limit"`
	MaxConns    int64   `json:"max_conns"`
	FDOccupancy float64 `json:"fd_occupancy"`
}

// BucketStats is the bucket table's source and refreshes.
type BucketStats struct {
	Source string `json:"source,omitempty"`
	// Mode is "watch" (tables pushed by the controller) or "poll".
	Mode string `json:"mode,omitempty"`
	// Version of the last table applied from the watch (0 when polled).
	Version    uint64    `json:"version"`
	Group      string    `json:"group,omitempty"`
	Buckets    int       `json:"buckets"`
	Owned      int       `json:"owned"`
	Fetches    int64     `json:"fetches"`
	Updates    int64     `json:"updates"`
	Gained     int64     `json:"ports_gained"`
	Lost       int64     `json:"ports_lost"`
	Errors     int64     `json:"errors"`
	Refused    int64     `json:"refused"` // tables over the contract, among Errors
	LastError  string    `json:"last_error,omitempty"`
	LastChange time.Time `json:"last_change,omitzero"`
}

// BackendStats is one backend.
type BackendStats struct {
	Address     string `json:"address"`
	Active      int64  `json:"active"`
	Connections int64  `json:"connections"`
	Failed      int64  `json:"failed"`
}

// Stats returns the counters now.
func (s *Server) Stats() Stats {
	c := &s.st
	st := Stats{
		TM:   s.cfg.Name,
		SNAT: s.cfg.snat.String(),
		Mode: "self-ports",
		Connections: ConnStats{
			Accepted:     c.accepted.Load(),
			Active:       c.active.Load(),
			Completed:    c.completed.Load(),
			Failed:       c.failed.Load(),
			IdleTimeouts: c.idleTimeouts.Load(),
			Aborted:      c.aborted.Load(),

			RefusedClientLimit: s.load.refused.Load(),
			RefusedFDLimit:     s.fd.refused.Load(),
		},
		Bytes: ByteStats{ClientToServer: c.c2s.Load(), ServerToClient: c.s2c.Load()},
		SelfPorts: PortStats{
			Held:             c.held.Load(),
			Connections:      c.selfConns.Load(),
			OtherConnections: c.otherConns.Load(),
			Retries:          c.retries.Load(),
			High:             s.load.high.Load(),
			HighCrossings:    s.load.crossings.Load(),
		},
		Limits: LimitStats{
			MaxConnsPerClient: s.cfg.MaxConnsPerClient,
			Clients:           s.clientCount(),
			IdleTimeout:       s.cfg.IdleTimeout.Seconds(),
			IdleTimeoutNow:    s.idleTimeout().Seconds(),
			FDLimit:           s.fd.limit,
			MaxConns:          s.fd.maxConns,
			FDOccupancy:       s.fdOccupancy(),
		},
	}
	st.Connections.WaitedForPort = c.waited.Load()
	st.Connections.PortWaitTimeouts = c.waitTimeouts.Load()
	if s.cfg.KernelPorts {
		st.Mode = "kernel-ports"
	}
	if s.tab != nil {
		st.SelfPorts.Table = s.tab.Len()
		st.SelfPorts.Free = s.tab.Free()
		st.SelfPorts.InUse = st.SelfPorts.Table - st.SelfPorts.Free
		if st.SelfPorts.Table > 0 {
			st.SelfPorts.Occupancy = float64(st.SelfPorts.InUse) / float64(st.SelfPorts.Table)
		}
	}
	s.mu.Lock()
	st.Buckets = s.bucketSt
	st.Buckets.Group = s.group
	st.Buckets.Buckets = len(s.lastBuckets)
	st.Buckets.Owned = owned(s.lastBuckets, s.cfg.Name)
	s.mu.Unlock()
	if s.cfg.source != nil {
		st.Buckets.Source = s.cfg.source.String()
		st.Buckets.Mode = "poll"
		if _, ok := s.cfg.source.(Follower); ok && !s.cfg.Poll {
			st.Buckets.Mode = "watch"
		}
	}
	for _, b := range s.bal.backends {
		st.Backends = append(st.Backends, BackendStats{Address: b.addr.String(),
			Active: b.active.Load(), Connections: b.total.Load(), Failed: b.failed.Load()})
	}
	return st
}
