// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"net/netip"
	"sync"
	"time"
)

// ChainedHold is how long a self port stays held after the last chained
// packet of another TM's connection on it.
const ChainedHold = 2 * time.Minute

// chainedPorts are the self ports this TM holds back because another TM
// of the group still has a connection on them.
type chainedPorts struct {
	mu    sync.Mutex
	timer map[uint16]*time.Timer
}

// Chained tells the TM that a packet to dst was chained to the bucket's
// previous owner. When dst is this TM's SNAT address, that TM still has a
// connection from dst's port: the shared SNAT address with that port to
// the same server would be the same four-tuple, so the port is not handed
// out until ChainedHold after the last such packet.
func (s *Server) Chained(dst netip.AddrPort) {
	s.mu.Lock()
	tab := s.tab
	s.mu.Unlock()
	if tab == nil || dst.Addr().Unmap() != s.cfg.snat {
		return
	}
	p := dst.Port()
	s.chained.mu.Lock()
	defer s.chained.mu.Unlock()
	if t, ok := s.chained.timer[p]; ok {
		t.Reset(ChainedHold)
		return
	}
	if !tab.Hold(p) {
		return // in use here, or not this TM's to give
	}
	if s.chained.timer == nil {
		s.chained.timer = map[uint16]*time.Timer{}
	}
	s.chained.timer[p] = time.AfterFunc(ChainedHold, func() {
		s.chained.mu.Lock()
		delete(s.chained.timer, p)
		s.chained.mu.Unlock()
		_ = tab.Release(p)
	})
}
