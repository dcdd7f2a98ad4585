// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// handle proxies one client connection. Its counters change in an order
// that lets a reader who sees Completed or Failed go up also see the
// connection gone from Active and its port back in the table.
func (s *Server) handle(client *net.TCPConn) {
	defer s.conns.Done()
	// accept counted it in accepted and active.
	log := s.log.With("client", client.RemoteAddr().String(), "vip", client.LocalAddr().String())
	s.checkOccupancy() // the descriptor budget may cross the mark
	addr := clientAddr(client)
	if !s.admit(addr) {
		// A reset: the client learns at once, and no TIME_WAIT is left.
		_ = client.SetLinger(0)
		client.Close()
		s.st.active.Add(-1)
		s.st.failed.Add(1)
		s.load.refused.Add(1)
		log.Debug("refused: the client holds its connection limit")
		return
	}

	tried := make([]bool, len(s.bal.backends))
	var (
		be     *backend
		server *net.TCPConn
		port   uint16 // the self port to give back; 0: none
	)
	for {
		i := s.bal.pick(tried)
		if i < 0 {
			break
		}
		tried[i] = true
		b := s.bal.backends[i]
		c, p, err := s.dial(b)
		if err == nil {
			be, server, port = b, c, p
			break
		}
		b.active.Add(-1)
		b.failed.Add(1)
		if s.hard.Err() != nil {
			break
		}
		log.Warn("backend connect failed", "backend", b.addr.String(), "err", err)
	}
	if server == nil {
		client.Close()
		s.leave(addr)
		s.st.active.Add(-1)
		s.st.failed.Add(1)
		return
	}
	be.total.Add(1)
	log = log.With("backend", be.addr.String(), "source", server.LocalAddr().String())
	log.Debug("proxying")

	f := &flow{client: client, server: server, idle: s.idleTimeout, st: &s.st}
	f.touch()
	s.addFlow(f)
	f.run(s.hard) // returns with both sockets closed
	s.removeFlow(f)
	if port != 0 {
		// The port goes back to the table. If this TM sent the first
		// FIN, the kernel keeps SNAT:p -> server in TIME_WAIT; that
		// blocks only this 4-tuple, so p serves other servers at once,
		// and a connect to the same server that the kernel refuses
		// moves on to the next port (see dial).
		s.release(port)
	}
	s.leave(addr)
	be.active.Add(-1)
	s.st.active.Add(-1)
	s.checkOccupancy()
	switch {
	case f.idleTimedOut.Load():
		s.st.idleTimeouts.Add(1)
		log.Debug("idle timeout")
	case f.aborted.Load():
		s.st.aborted.Add(1)
		log.Debug("aborted", "err", f.cause)
	default:
		log.Debug("done")
	}
	s.st.completed.Add(1)
}

// dial connects to the backend from SNAT: from a self port greater than the
// backend's port (it returns that port, to be released), or with
// KernelPorts from a port the kernel picks (it returns 0).
func (s *Server) dial(b *backend) (*net.TCPConn, uint16, error) {
	c := s.cfg
	snat := c.snat.AsSlice()
	ctx := s.hard
	if c.KernelPorts {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: snat}, Timeout: c.ConnectTimeout, Control: sockopts(false, true, c.Freebind)}
		conn, err := d.DialContext(ctx, "tcp", b.addr.String())
		if err != nil {
			return nil, 0, err
		}
		tc := conn.(*net.TCPConn)
		lp := uint16(tc.LocalAddr().(*net.TCPAddr).Port)
		if s.tab != nil && lp > b.addr.Port() && s.tab.IsOwn(lp) {
			s.st.selfConns.Add(1)
		} else {
			s.st.otherConns.Add(1)
		}
		return tc, 0, nil
	}
	for range portAttempts {
		p, err := s.allocate(b.addr.Port())
		if err != nil {
			return nil, 0, fmt.Errorf("source port for %s: %w (%d self ports, %d free)", b.addr, err, s.tab.Len(), s.tab.Free())
		}
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: snat, Port: int(p)}, Timeout: c.ConnectTimeout, Control: sockopts(true, false, c.Freebind)}
		conn, err := d.DialContext(ctx, "tcp", b.addr.String())
		s.checkOccupancy()
		if err == nil {
			if s.tab.IsOwn(p) {
				s.st.selfConns.Add(1)
			} else { // lost to a table update since Allocate
				s.st.otherConns.Add(1)
			}
			return conn.(*net.TCPConn), p, nil
		}
		busy, everywhere := portBusy(err)
		if !busy {
			s.release(p)
			return nil, 0, err
		}
		s.st.retries.Add(1)
		if everywhere {
			// Another socket holds the port itself (a listener, a
			// socket without SO_REUSEADDR, another process): set it
			// aside for a while.
			s.holdBusy(p)
		} else {
			// The 4-tuple to this server exists (TIME_WAIT or
			// LAST_ACK of an earlier connection): p is still good for
			// other servers. The table's cursor has moved past it.
			s.release(p)
		}
	}
	return nil, 0, fmt.Errorf("no usable self port for %s after %d tries: the kernel holds them (many TIME_WAITs to this server? see net.ipv4.tcp_tw_reuse)", b.addr, portAttempts)
}

// portBusy tells a busy source port from other errors: busy at bind
// (EADDRINUSE: another socket holds the port, whatever the destination), or
// at connect (EADDRNOTAVAIL, EADDRINUSE: the 4-tuple to this server is
// taken). bind's EADDRNOTAVAIL (a SNAT address that is not local) is not a
// busy port.
func portBusy(err error) (busy, everywhere bool) {
	var se *os.SyscallError
	if !errors.As(err, &se) {
		return false, false
	}
	switch se.Syscall {
	case "bind":
		b := errors.Is(se.Err, syscall.EADDRINUSE)
		return b, b
	case "connect":
		return errors.Is(se.Err, syscall.EADDRNOTAVAIL) || errors.Is(se.Err, syscall.EADDRINUSE), false
	}
	return false, false
}

func (s *Server) release(p uint16) {
	if err := s.tab.Release(p); err != nil {
		s.log.Error("self port release", "port", p, "err", err)
	}
	s.checkOccupancy()
	if s.waiting.Load() > 0 {
		s.signalPorts()
	}
}

// holdBusy keeps p out of the table for busyHoldoff, then releases it.
func (s *Server) holdBusy(p uint16) {
	s.st.held.Add(1)
	time.AfterFunc(busyHoldoff, func() {
		s.st.held.Add(-1)
		s.release(p)
	})
}

// flow is one proxied connection: client <-> TM <-> server.
type flow struct {
	client, server *net.TCPConn
	idle           func() time.Duration // the idle timeout now (0: never); it shrinks when ports run short
	st             *counters

	last atomic.Int64 // unix nanoseconds of the last byte either way

	aborted      atomic.Bool
	idleTimedOut atomic.Bool
	cause        error // the first error; set before aborted
	causeOnce    sync.Once
}

var errIdle = errors.New("idle timeout")

func (f *flow) touch() { f.last.Store(time.Now().UnixNano()) }

// wake interrupts both reads so that they apply the idle timeout in force
// now; a flow idle for longer than that ends, the others read on.
func (f *flow) wake() {
	now := time.Now()
	_ = f.client.SetReadDeadline(now)
	_ = f.server.SetReadDeadline(now)
}

// run copies both ways until both directions have ended or the flow is
// aborted (an error, idle timeout, or ctx done), then closes both sockets.
func (f *flow) run(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() { f.abort(errors.New("shutdown")) })
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := f.pipe(f.server, f.client, &f.st.c2s); err != nil {
			f.abort(err)
		}
	})
	wg.Go(func() {
		if err := f.pipe(f.client, f.server, &f.st.s2c); err != nil {
			f.abort(err)
		}
	})
	wg.Wait()
	if !stop() {
		// The shutdown abort has started: let it finish before the
		// caller reads the outcome.
		f.causeOnce.Do(func() {})
	}
	f.client.Close()
	f.server.Close()
}

// abort closes both sides at once. The server side is closed with
// SO_LINGER 0 (a RST): the connection is being thrown away (an error, the
// idle timeout, the end of the grace period), unsent data does not matter,
// and the server learns at once instead of holding a half-dead connection;
// no TIME_WAIT is left either. Orderly ends never use it: they close with
// FIN after both directions are done.
func (f *flow) abort(err error) {
	f.causeOnce.Do(func() {
		f.cause = err
		if errors.Is(err, errIdle) {
			f.idleTimedOut.Store(true)
		}
		f.aborted.Store(true)
		_ = f.server.SetLinger(0)
		f.server.Close()
		f.client.Close()
	})
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// pipe copies src to dst until src's EOF, then half-closes dst
// (CloseWrite: a FIN), so the other direction keeps going.
func (f *flow) pipe(dst, src *net.TCPConn, count *atomic.Int64) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		idle := f.idle()
		if idle > 0 {
			_ = src.SetReadDeadline(time.Unix(0, f.last.Load()).Add(idle))
		} else {
			_ = src.SetReadDeadline(time.Time{})
		}
		n, err := src.Read(buf)
		if n > 0 {
			f.touch()
			if idle > 0 {
				_ = dst.SetWriteDeadline(time.Now().Add(idle))
			} else {
				_ = dst.SetWriteDeadline(time.Time{})
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				if errors.Is(werr, os.ErrDeadlineExceeded) {
					return errIdle // the peer has read nothing for that long
				}
				return werr
			}
			f.touch()
			count.Add(int64(n))
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return dst.CloseWrite()
		case errors.Is(err, os.ErrDeadlineExceeded):
			if idle := f.idle(); idle == 0 || time.Since(time.Unix(0, f.last.Load())) < idle {
				continue // the other direction moved, or woken: wait on
			}
			return errIdle
		default:
			return err
		}
	}
}
