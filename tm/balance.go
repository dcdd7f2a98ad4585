// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"net/netip"
	"sync"
	"sync/atomic"
)

type backend struct {
	addr netip.AddrPort
	// active counts connections assigned to it (connecting or proxying).
	active atomic.Int64
	total  atomic.Int64 // connections established
	failed atomic.Int64 // connects that failed
}

// balancer picks backends. A connection tries each backend at most once:
// when a connect fails it asks for the next one.
type balancer struct {
	backends  []*backend
	leastConn bool

	mu   sync.Mutex
	next int // round-robin position; also breaks least-conn ties
}

func newBalancer(addrs []netip.AddrPort, leastConn bool) *balancer {
	b := &balancer{leastConn: leastConn}
	for _, a := range addrs {
		b.backends = append(b.backends, &backend{addr: a})
	}
	return b
}

// pick returns the index of the backend to use among those not yet tried,
// and counts the connection as active on it; -1 when all were tried.
//
// round-robin: the next backend in turn. least-conn: the backend with the
// fewest active connections; ties go to the first in round-robin order from
// the current position, so equal backends still take turns.
func (b *balancer) pick(tried []bool) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.backends)
	best := -1
	for k := range n {
		i := (b.next + k) % n
		if tried[i] {
			continue
		}
		if !b.leastConn {
			best = i
			break
		}
		if best < 0 || b.backends[i].active.Load() < b.backends[best].active.Load() {
			best = i
		}
	}
	if best < 0 {
		return -1
	}
	b.next = (best + 1) % n
	b.backends[best].active.Add(1)
	return best
}
