// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync/atomic"
	"time"

	"github.com/symdist/symdist/internal/limitlog"
)

// The file descriptor budget. Each proxied connection holds two
// descriptors (the client's and the backend's), and the process needs
// others besides: the listeners, the HTTP endpoint and its connections
// (at most httpMaxConns), the controller's connections, logs. At Start the
// TM reads RLIMIT_NOFILE, counts the descriptors already open, keeps
// fdReserve more for the rest and admits at most
// (limit - open - fdReserve) / 2 connections at once. Past that a new
// connection is reset at once (refused_fd_limit; one log line per
// fdLogInterval), before accept fails with EMFILE and the TM can reach
// neither backends nor controller. From highOccupancy of that budget the
// idle timeout shrinks to BusyIdleTimeout, as it does for self ports.
const (
	fdReserve     = httpMaxConns + 64
	fdLogInterval = 10 * time.Second
)

// fdBudget is the budget in force; zero value: no bound.
type fdBudget struct {
	limit    uint64 // RLIMIT_NOFILE (soft) at Start; 0: unknown
	maxConns int64  // connections admitted at once; 0: no bound
	refused  atomic.Int64
	log      *limitlog.Limiter
}

// connBudget is how many connections fit in limit descriptors with open
// already open; 0: no bound (an unlimited or huge limit).
func connBudget(limit, open uint64) (int64, error) {
	if limit == 0 || limit >= math.MaxInt32 {
		return 0, nil
	}
	if limit <= open+fdReserve+2 {
		return 0, fmt.Errorf("the open file limit (RLIMIT_NOFILE %d) leaves no room for connections: %d descriptors open, %d kept for the rest; raise it (ulimit -n)",
			limit, open, fdReserve)
	}
	return int64((limit - open - fdReserve) / 2), nil
}

// startFDBudget reads the limit (unless a test set one) and sets the
// budget.
func (s *Server) startFDBudget() error {
	s.fd.log = limitlog.New(fdLogInterval)
	if s.fd.limit == 0 {
		limit, err := nofileLimit()
		if err != nil {
			s.log.Warn("cannot read the open file limit: connections are not bounded by it", "err", err)
			return nil
		}
		s.fd.limit = limit
	}
	max, err := connBudget(s.fd.limit, openFDs())
	if err != nil {
		return err
	}
	s.fd.maxConns = max
	if max > 0 {
		s.log.Info("file descriptor budget", "rlimit_nofile", s.fd.limit, "max_connections", max)
	}
	return nil
}

// openFDs counts the descriptors open now (0 where /proc/self/fd is not).
func openFDs() uint64 {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return uint64(len(ents))
}

// overFDBudget reports whether active connections (this one counted)
// exceed the budget.
func (s *Server) overFDBudget(active int64) bool {
	return s.fd.maxConns > 0 && active > s.fd.maxConns
}

// refuseFD counts and logs a connection refused by the budget.
func (s *Server) refuseFD() {
	s.fd.refused.Add(1)
	s.fd.log.Log(s.log, slog.LevelWarn, "fd_limit", "file descriptors nearly used up: refusing new connections",
		"active", s.st.active.Load(), "max_connections", s.fd.maxConns, "rlimit_nofile", s.fd.limit)
}

// fdOccupancy is the share of the connection budget in use.
func (s *Server) fdOccupancy() float64 {
	if s.fd.maxConns <= 0 {
		return 0
	}
	return float64(s.st.active.Load()) / float64(s.fd.maxConns)
}
