// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// The self-source port budget. Idle clients must not use it up: each client
// address may hold at most MaxConnsPerClient connections, and while the
// port table is nearly full (highOccupancy of its ports in use or held)
// the idle timeout shrinks to BusyIdleTimeout, so idle connections give
// their ports back to new ones. Crossing highOccupancy is logged once (a
// warning); going back under lowOccupancy once (info). The gap keeps a
// table that hovers at the mark from logging on every connection.
const (
	highOccupancy = 0.8
	lowOccupancy  = 0.7
)

// load tracks what the budget needs: connections per client address, the
// live flows (to wake when the idle timeout shrinks) and the occupancy
// state. Its zero value is ready.
type load struct {
	mu      sync.Mutex
	clients map[netip.Addr]*clientLoad
	flows   map[*flow]struct{}

	high      atomic.Bool  // occupancy crossed highOccupancy, not yet back under lowOccupancy
	crossings atomic.Int64 // times it crossed highOccupancy
	refused   atomic.Int64 // connections refused by the per-client limit
}

type clientLoad struct {
	conns  int
	warned bool // its refusal was logged; again only after it drops below the limit
}

// admit counts a connection of addr, or refuses it when addr already holds
// MaxConnsPerClient.
func (s *Server) admit(addr netip.Addr) bool {
	l := &s.load
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clients == nil {
		l.clients = map[netip.Addr]*clientLoad{}
	}
	c := l.clients[addr]
	if c == nil {
		c = &clientLoad{}
		l.clients[addr] = c
	}
	if max := s.cfg.MaxConnsPerClient; max > 0 && c.conns >= max {
		if !c.warned {
			c.warned = true
			s.log.Warn("client at its connection limit: refusing its new connections", "client", addr, "limit", max)
		}
		return false
	}
	c.conns++
	return true
}

// leave forgets one connection of addr.
func (s *Server) leave(addr netip.Addr) {
	l := &s.load
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[addr]
	if c == nil {
		return
	}
	if c.conns--; c.conns == 0 {
		delete(l.clients, addr)
	} else if c.conns < s.cfg.MaxConnsPerClient {
		c.warned = false
	}
}

// clientCount is the number of client addresses with a connection.
func (s *Server) clientCount() int {
	s.load.mu.Lock()
	defer s.load.mu.Unlock()
	return len(s.load.clients)
}

func clientAddr(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// idleTimeout is the idle timeout in force: BusyIdleTimeout while the port
// table is nearly full (when it is shorter), else IdleTimeout (0: never).
func (s *Server) idleTimeout() time.Duration {
	idle, busy := s.cfg.IdleTimeout, s.cfg.BusyIdleTimeout
	if busy > 0 && s.load.high.Load() && (idle == 0 || busy < idle) {
		return busy
	}
	return idle
}

func (s *Server) addFlow(f *flow) {
	s.load.mu.Lock()
	defer s.load.mu.Unlock()
	if s.load.flows == nil {
		s.load.flows = map[*flow]struct{}{}
	}
	s.load.flows[f] = struct{}{}
}

func (s *Server) removeFlow(f *flow) {
	s.load.mu.Lock()
	defer s.load.mu.Unlock()
	delete(s.load.flows, f)
}

// occupancy is the share of the self-port table in use or held.
func (s *Server) occupancy() (inUse int, ratio float64) {
	if s.tab == nil {
		return 0, 0
	}
	n := s.tab.Len()
	inUse = n - s.tab.Free()
	if n == 0 {
		return inUse, 0
	}
	return inUse, float64(inUse) / float64(n)
}

// checkOccupancy notes a crossing of highOccupancy (up) or lowOccupancy
// (down) by the self-port table or the descriptor budget (fdlimit.go),
// whichever is fuller, after a port or a connection was taken or given
// back. Going up, every flow is woken so that it applies the shorter idle
// timeout at once.
func (s *Server) checkOccupancy() {
	inUse, pr := s.occupancy()
	fr := s.fdOccupancy()
	r := max(pr, fr)
	l := &s.load
	switch {
	case r >= highOccupancy && !l.high.Load():
		l.mu.Lock()
		defer l.mu.Unlock()
		if !l.high.CompareAndSwap(false, true) {
			return
		}
		l.crossings.Add(1)
		if pr >= fr {
			s.log.Warn("self-source ports nearly used up: idle connections now time out sooner",
				"in_use", inUse, "table", s.tab.Len(), "occupancy", round2(r), "idle_timeout", s.idleTimeout(),
				"clients", len(l.clients))
		} else {
			s.log.Warn("file descriptors nearly used up: idle connections now time out sooner",
				"active", s.st.active.Load(), "max_connections", s.fd.maxConns, "occupancy", round2(r),
				"idle_timeout", s.idleTimeout(), "clients", len(l.clients))
		}
		for f := range l.flows {
			f.wake()
		}
	case r < lowOccupancy && l.high.Load():
		if l.high.CompareAndSwap(true, false) {
			s.log.Info("self-source ports and file descriptors back under the mark", "ports_in_use", inUse,
				"port_occupancy", round2(pr), "fd_occupancy", round2(fr), "idle_timeout", s.idleTimeout())
		}
	}
}

func round2(x float64) float64 { return float64(int(x*100+0.5)) / 100 }
