// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// chaosProxy forwards TCP connections to a switch and breaks them on
// demand: all at once, each after a random number of bytes (so the cut
// lands inside a message, mid-write), or by freezing (bytes are read and
// held, sockets stay open: a switch that hangs).
type chaosProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	pairs   map[*proxyPair]struct{}
	thawed  chan struct{} // nil, or closed when a freeze ends
	accepts []time.Time
}

// proxyPair is one proxied connection.
type proxyPair struct {
	client, server net.Conn
	budget         atomic.Int64 // bytes towards the switch before a cut; -1: no cut
	closeOnce      sync.Once
}

func newChaosProxy(t testing.TB, target string) *chaosProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &chaosProxy{ln: ln, target: target, pairs: map[*proxyPair]struct{}{}}
	go p.serve()
	t.Cleanup(func() { p.thaw(); ln.Close(); p.cutAll() })
	return p
}

func (p *chaosProxy) addr() string { return p.ln.Addr().String() }

func (p *chaosProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.accepts = append(p.accepts, time.Now())
		p.mu.Unlock()
		go p.handle(c)
	}
}

func (p *chaosProxy) handle(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	pair := &proxyPair{client: c, server: s}
	pair.budget.Store(-1)
	p.mu.Lock()
	p.pairs[pair] = struct{}{}
	p.mu.Unlock()
	go p.pipe(pair, c, s, true)
	p.pipe(pair, s, c, false)
}

func (p *chaosProxy) close(pair *proxyPair) {
	pair.closeOnce.Do(func() {
		pair.client.Close()
		pair.server.Close()
		p.mu.Lock()
		delete(p.pairs, pair)
		p.mu.Unlock()
	})
}

func (p *chaosProxy) pipe(pair *proxyPair, from, to net.Conn, towardsSwitch bool) {
	defer p.close(pair)
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			p.waitThawed()
			data := buf[:n]
			if towardsSwitch {
				if b := pair.budget.Load(); b >= 0 {
					if int64(n) >= b {
						to.Write(data[:b])
						return
					}
					pair.budget.Add(-int64(n))
				}
			}
			if _, err := to.Write(data); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *chaosProxy) waitThawed() {
	p.mu.Lock()
	ch := p.thawed
	p.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// cutAll closes every connection now.
func (p *chaosProxy) cutAll() {
	p.mu.Lock()
	pairs := make([]*proxyPair, 0, len(p.pairs))
	for pair := range p.pairs {
		pairs = append(pairs, pair)
	}
	p.mu.Unlock()
	for _, pair := range pairs {
		p.close(pair)
	}
}

// armCuts gives every live connection a random budget below max bytes
// towards the switch, after which it is cut.
func (p *chaosProxy) armCuts(rng *rand.Rand, max int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pair := range p.pairs {
		pair.budget.Store(rng.Int64N(max))
	}
}

func (p *chaosProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.thawed == nil {
		p.thawed = make(chan struct{})
	}
}

func (p *chaosProxy) thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.thawed != nil {
		close(p.thawed)
		p.thawed = nil
	}
}

// maxAcceptsPerSecond is the most connections accepted within one second.
func (p *chaosProxy) maxAcceptsPerSecond() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, start := 0, 0
	for end := range p.accepts {
		for p.accepts[end].Sub(p.accepts[start]) >= time.Second {
			start++
		}
		n = max(n, end-start+1)
	}
	return n
}
