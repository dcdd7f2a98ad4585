// SPDX-License-Identifier: Apache-2.0

// Package connlimit bounds the connections a server holds at once. Past
// the bound a new connection is accepted and closed at once with a reset
// (counted, and logged once per peer per interval) instead of costing a
// file descriptor for as long as the peer likes: the process keeps the
// descriptors it needs for everything else (switch sessions, backends).
//
// golang.org/x/net/netutil.LimitListener stops accepting instead, which
// leaves a normal client hanging in the backlog and counts nothing.
package connlimit

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/symdist/symdist/internal/limitlog"
)

// LogInterval is how often a refusal is logged per peer.
const LogInterval = 10 * time.Second

// Config is how a Listener bounds its connections.
type Config struct {
	// Max is how many accepted connections may be open at once; past it
	// new ones are refused. 0 or less: no bound.
	Max int
	// MaxPerPeer is how many of them one peer address may hold, so that
	// one peer cannot take them all; 0 or less: no such bound.
	MaxPerPeer int
	// Name says whose connections these are in the log ("admin API").
	Name string
	// Log hears refusals, at most one line per peer per LogInterval;
	// nil: none.
	Log *slog.Logger
	// Refused is called once per refused connection (a metric's Inc);
	// nil: none.
	Refused func()
}

// Listener wraps a net.Listener with Config's bound.
type Listener struct {
	net.Listener
	cfg     Config
	lim     *limitlog.Limiter
	open    atomic.Int64
	refused atomic.Int64

	mu    sync.Mutex
	peers map[string]int // open connections per peer address, with MaxPerPeer
}

// New bounds ln.
func New(ln net.Listener, cfg Config) *Listener {
	return &Listener{Listener: ln, cfg: cfg, lim: limitlog.New(LogInterval)}
}

// Accept returns the next connection within the bound, refusing (closing)
// those past it.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.cfg.Max <= 0 && l.cfg.MaxPerPeer <= 0 {
			return c, nil
		}
		peer := peerOf(c)
		if why := l.take(peer); why != "" {
			l.refuse(c, peer, why)
			continue
		}
		return &conn{Conn: c, l: l, peer: peer}, nil
	}
}

// take counts a connection of peer, or says why it is refused.
func (l *Listener) take(peer string) (why string) {
	if n := l.open.Add(1); l.cfg.Max > 0 && n > int64(l.cfg.Max) {
		l.open.Add(-1)
		return "too many open connections"
	}
	if l.cfg.MaxPerPeer <= 0 {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.peers[peer] >= l.cfg.MaxPerPeer {
		l.open.Add(-1)
		return "too many open connections from this address"
	}
	if l.peers == nil {
		l.peers = map[string]int{}
	}
	l.peers[peer]++
	return ""
}

// give forgets a connection of peer.
func (l *Listener) give(peer string) {
	l.open.Add(-1)
	if l.cfg.MaxPerPeer <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.peers[peer]--; l.peers[peer] <= 0 {
		delete(l.peers, peer)
	}
}

func peerOf(c net.Conn) string {
	peer := c.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	return peer
}

func (l *Listener) refuse(c net.Conn, peer, why string) {
	// Counted before the close: a peer that sees its connection reset
	// finds the refusal already in the metric.
	l.refused.Add(1)
	if l.cfg.Refused != nil {
		l.cfg.Refused()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // a reset: no TIME_WAIT, the peer learns at once
	}
	c.Close()
	if l.cfg.Log != nil {
		l.lim.Log(l.cfg.Log, slog.LevelWarn, peer, "connection refused: "+why,
			"server", l.cfg.Name, "peer", peer, "limit", l.cfg.Max, "per_peer", l.cfg.MaxPerPeer)
	}
}

// Open is the number of accepted connections not yet closed (0 without
// bounds: they are not counted).
func (l *Listener) Open() int64 { return l.open.Load() }

// Refused is the number of connections refused so far.
func (l *Listener) Refused() int64 { return l.refused.Load() }

// conn gives its place back once, on the first Close.
type conn struct {
	net.Conn
	l    *Listener
	peer string
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.give(c.peer) })
	return err
}
