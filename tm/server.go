// SPDX-License-Identifier: Apache-2.0

// Package tm is a reference traffic manager for symdist: a TCP proxy that
// source-NATs its backend connections to a shared SNAT address and picks
// each connection's source port from its self-source port table (contract
// section 5), so the server's reply hashes back to this TM at the
// distributor, whichever TMs share the address.
//
// A Server listens on virtual addresses, picks a backend (round-robin or
// least connections), connects to it from SNAT:p, p a free self port
// greater than the backend's port, and copies bytes both ways with
// half-close. It follows the bucket table of its group (from the
// controller or a file) and serves /healthz and /stats. See README.md and
// docs/tm.md.
package tm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/internal/backoff"
	"github.com/symdist/symdist/internal/connlimit"
	"github.com/symdist/symdist/internal/limitlog"
	"github.com/symdist/symdist/ports"
)

// Server is one running TM.
type Server struct {
	cfg *parsed
	log *slog.Logger
	bal *balancer

	tab *ports.Table // nil: no bucket table (KernelPorts without a source)

	// refusals logs refused bucket tables once a minute (each is counted
	// in Buckets.Refused).
	refusals *limitlog.Limiter

	chained chainedPorts // self ports another TM still uses (chained.go)

	listeners []net.Listener
	httpLn    net.Listener
	httpSrv   *http.Server

	// hard is cancelled when the grace period ends: dials in progress
	// stop and proxied connections are closed.
	hard       context.Context
	hardCancel context.CancelFunc

	accepting sync.WaitGroup // accept loops
	conns     sync.WaitGroup // connection handlers
	bg        sync.WaitGroup // refresh loop
	started   atomic.Bool
	done      chan struct{}

	st   counters
	load load     // the self-port budget: per-client limits, idle timeout, occupancy (load.go)
	fd   fdBudget // the file descriptor budget (fdlimit.go)
	http *connlimit.Listener

	mu          sync.Mutex // guards the bucket state below
	lastBuckets []string
	group       string
	bucketSt    BucketStats

	// Connections waiting for a usable self port (Hold) and the loss
	// grace wait on portsChanged, which is closed and replaced when ports
	// may have become usable: a gain or a release.
	waiting      atomic.Int64
	wakeMu       sync.Mutex
	portsChanged chan struct{}
}

// New checks cfg and returns a Server that Start runs.
func New(cfg Config) (*Server, error) {
	p, err := cfg.check()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: p, log: p.Log, refusals: limitlog.New(time.Minute), bal: newBalancer(p.backends, p.Balance == LeastConn), done: make(chan struct{}),
		portsChanged: make(chan struct{})}
	s.hard, s.hardCancel = context.WithCancel(context.Background())
	return s, nil
}

// Run starts the server and serves until ctx is done, then shuts down
// gracefully (Wait).
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	s.Wait()
	return nil
}

// Start fetches the bucket table, binds the listeners and the HTTP
// endpoint, and serves in the background. When ctx is done the server stops
// accepting, waits up to Grace for active connections, closes the rest and
// stops; Wait returns then.
func (s *Server) Start(ctx context.Context) (err error) {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("tm: Start called twice")
	}
	defer func() {
		if err != nil {
			s.closeListeners()
			if s.httpLn != nil {
				s.httpLn.Close()
			}
			s.hardCancel()
			close(s.done)
		}
	}()
	c := s.cfg
	stopFollowing := func() {}
	if f, ok := c.source.(Follower); ok && !c.Poll {
		if stopFollowing, err = s.startFollowing(ctx, f); err != nil {
			return fmt.Errorf("bucket table from %s: %w", c.source, err)
		}
	} else if c.source != nil {
		bt, err := fetchAtStart(ctx, c.source, s.log)
		if err != nil {
			return fmt.Errorf("bucket table from %s: %w", c.source, err)
		}
		if err := s.firstTable(bt, 0); err != nil {
			return fmt.Errorf("bucket table from %s: %w", c.source, err)
		}
		s.mu.Lock()
		s.bucketSt.Fetches = 1
		s.mu.Unlock()
	}
	defer func() {
		if err != nil {
			stopFollowing()
		}
	}()
	if err := s.checkSNAT(); err != nil {
		return err
	}
	lc := net.ListenConfig{Control: sockopts(false, false, c.Freebind)}
	for _, a := range c.listen {
		ln, err := lc.Listen(ctx, "tcp", a)
		if err != nil {
			return fmt.Errorf("--listen %s: %w", a, err)
		}
		s.listeners = append(s.listeners, ln)
	}
	if err := s.startFDBudget(); err != nil { // with the listeners open
		return err
	}
	if c.HTTP != "" {
		s.httpLn, err = net.Listen("tcp", c.HTTP)
		if err != nil {
			return fmt.Errorf("--http %s: %w", c.HTTP, err)
		}
		s.http = connlimit.New(s.httpLn, connlimit.Config{Max: httpMaxConns, Name: "TM HTTP endpoint", Log: s.log})
		s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
		go func() {
			if err := s.httpSrv.Serve(s.http); !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("HTTP endpoint stopped", "err", err)
			}
		}()
	}
	for _, ln := range s.listeners {
		s.log.Info("listening", "address", ln.Addr().String())
		s.accepting.Add(1)
		go s.accept(ln)
	}
	mode := "self-ports"
	if c.KernelPorts {
		mode = "kernel-ports"
		s.log.Warn("--self-ports=false: the kernel picks source ports; replies reach this TM only by chance")
	}
	s.log.Info("TM started", "tm", c.Name, "mode", mode, "backends", len(c.backends), "balance", c.Balance)
	if _, ok := c.source.(Follower); c.source != nil && (!ok || c.Poll) {
		s.bg.Add(1)
		go s.refreshLoop(ctx)
	}
	if src, ok := c.source.(*ControllerSource); ok {
		s.bg.Add(1)
		go s.reportLoop(ctx, src)
	}
	go s.shutdown(ctx)
	return nil
}

// checkSNAT binds SNAT:0 once, so a SNAT address that is not local fails
// at start with a clear error rather than on every connection.
func (s *Server) checkSNAT() error {
	lc := net.ListenConfig{Control: sockopts(false, false, s.cfg.Freebind)}
	ln, err := lc.Listen(context.Background(), "tcp", netip.AddrPortFrom(s.cfg.snat, 0).String())
	if err != nil {
		return fmt.Errorf("--snat %s: cannot bind it (configure it on an interface, or --freebind): %w", s.cfg.snat, err)
	}
	return ln.Close()
}

// Wait blocks until the server has stopped: ctx done, connections ended or
// closed after the grace period.
func (s *Server) Wait() { <-s.done }

// Done is closed when the server has stopped.
func (s *Server) Done() <-chan struct{} { return s.done }

// Table is the self-source port table, nil without a bucket table.
func (s *Server) Table() *ports.Table { return s.tab }

func (s *Server) closeListeners() {
	for _, ln := range s.listeners {
		ln.Close()
	}
}

func (s *Server) shutdown(ctx context.Context) {
	<-ctx.Done()
	s.closeListeners()
	s.accepting.Wait() // no conns.Add after this
	s.bg.Wait()
	active := s.st.active.Load()
	s.log.Info("shutting down: not accepting", "active", active, "grace", s.cfg.Grace)
	ended := make(chan struct{})
	go func() { s.conns.Wait(); close(ended) }()
	if active > 0 {
		t := time.NewTimer(s.cfg.Grace)
		select {
		case <-ended:
			t.Stop()
		case <-t.C:
			s.log.Warn("grace period over: closing connections", "active", s.st.active.Load())
		}
	}
	s.hardCancel()
	<-ended
	if s.httpSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.httpSrv.Shutdown(sctx)
		cancel()
	}
	st := s.Stats()
	s.log.Info("TM stopped", "accepted", st.Connections.Accepted, "completed", st.Connections.Completed,
		"failed", st.Connections.Failed)
	close(s.done)
}

func (s *Server) accept(ln net.Listener) {
	defer s.accepting.Done()
	wait := backoff.Backoff{Min: acceptRetryMin, Max: acceptRetryMax}
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE, ENFILE, ECONNABORTED...: back off like net/http.
			d := wait.Next()
			s.log.Warn("accept", "address", ln.Addr().String(), "err", err, "retry_in", d)
			time.Sleep(d)
			continue
		}
		wait.Reset()
		tc := c.(*net.TCPConn)
		s.st.accepted.Add(1)
		if active := s.st.active.Add(1); s.overFDBudget(active) {
			// Refused here, before the next accept, so that refused
			// connections waiting for their goroutine cannot pile up
			// past the limit (fdlimit.go). A reset: no TIME_WAIT.
			_ = tc.SetLinger(0)
			tc.Close()
			s.st.active.Add(-1)
			s.st.failed.Add(1)
			s.refuseFD()
			continue
		}
		s.conns.Add(1)
		go s.handle(tc)
	}
}

// Retry pacing: a failed accept waits from acceptRetryMin to
// acceptRetryMax; after a failed refresh the next comes after 1-2 refresh
// periods, doubling to 4-8, so that TMs do not hammer a controller that is
// down or restarting, and do not retry in step.
const (
	acceptRetryMin        = 5 * time.Millisecond
	acceptRetryMax        = time.Second
	refreshBackoffPeriods = 8
)

func (s *Server) refreshLoop(ctx context.Context) {
	defer s.bg.Done()
	retry := backoff.Backoff{Min: 2 * s.cfg.Refresh, Max: refreshBackoffPeriods * s.cfg.Refresh}
	next := s.cfg.Refresh
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		}
		if s.refresh(ctx) {
			retry.Reset()
			next = s.cfg.Refresh
		} else {
			next = retry.Next()
		}
	}
}

// noteTable passes a table to OnTable.
func (s *Server) noteTable(bt adminapi.BucketTable) {
	if s.cfg.OnTable != nil {
		s.cfg.OnTable(bt)
	}
}

// refusedLocked counts and logs (once a minute) a table refused as over
// the contract, and reports whether err is one; s.mu is held.
func (s *Server) refusedLocked(err error) bool {
	if !errors.Is(err, adminapi.ErrBadTable) {
		return false
	}
	s.bucketSt.Refused++
	s.bucketSt.LastError = err.Error()
	s.refusals.Log(s.log, slog.LevelWarn, s.cfg.source.String(), "bucket table refused; keeping the current table", "source", s.cfg.source.String(), "err", err)
	return true
}

// refresh fetches the bucket table and applies a change to the port table;
// it reports whether that worked.
func (s *Server) refresh(ctx context.Context) bool {
	c := s.cfg
	fctx, cancel := context.WithTimeout(ctx, max(c.Refresh, 5*time.Second))
	bt, err := c.source.Fetch(fctx)
	cancel()
	if ctx.Err() != nil {
		return true
	}
	if err == nil {
		s.noteTable(bt) // chains may change while the owners do not
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bucketSt.Fetches++
	if err == nil && slices.Equal(bt.Buckets, s.lastBuckets) {
		if s.bucketSt.LastError != "" {
			s.log.Info("bucket table source is back", "source", c.source.String())
		}
		s.bucketSt.LastError = ""
		return true
	}
	var gained, lost int
	if err == nil {
		var held []uint16
		if held, err = adminapi.HeldFor(bt.Held, c.Name, c.snat); err == nil {
			gained, lost, err = s.tab.UpdateReserved(bt.Buckets, held)
		}
	}
	if err != nil {
		s.bucketSt.Errors++
		if s.refusedLocked(err) {
			return false
		}
		// Log a failure once until it changes or recovers, not every
		// refresh; the old table stays in force.
		if msg := err.Error(); msg != s.bucketSt.LastError {
			s.log.Warn("bucket table refresh failed; keeping the current table", "source", c.source.String(), "err", err)
			s.bucketSt.LastError = msg
		}
		return false
	}
	s.bucketSt.LastError = ""
	s.noteChangeLocked(bt, 0, gained, lost)
	if gained > 0 {
		s.signalPorts()
	}
	if lost > 0 {
		// Polled, a loss comes after the switches changed: connections
		// on lost ports keep them until they end, but their replies now
		// hash to another TM, and so did those of connections that took
		// a lost port since the change (the watch has no such window).
		s.log.Warn("self ports lost after the switches moved them (polling: --watch avoids this)", "tm", c.Name, "lost", lost)
	}
	return true
}

// firstTable builds the port table from the first bucket table.
func (s *Server) firstTable(bt adminapi.BucketTable, version uint64) error {
	s.noteTable(bt)
	c := s.cfg
	tab, err := ports.Compute(bt.Buckets, c.Name, c.snat, c.MinPort)
	if err != nil {
		return err
	}
	held, err := adminapi.HeldFor(bt.Held, c.Name, c.snat)
	if err != nil {
		return err
	}
	if _, _, err := tab.UpdateReserved(bt.Buckets, held); err != nil {
		return err
	}
	s.mu.Lock()
	s.tab = tab
	s.lastBuckets = slices.Clone(bt.Buckets)
	s.group = bt.Group
	s.bucketSt.LastChange = time.Now()
	s.bucketSt.Version = version
	s.mu.Unlock()
	s.log.Info("self-source ports", "tm", c.Name, "group", bt.Group, "snat", c.snat, "source", c.source.String(),
		"version", version, "buckets", len(bt.Buckets), "owned", owned(bt.Buckets, c.Name), "self_ports", tab.Len())
	if owned(bt.Buckets, c.Name) == 0 {
		s.log.Warn("this TM owns no bucket yet: connections wait up to --hold for a self port", "tm", c.Name, "hold", c.Hold)
	}
	return nil
}

// noteChangeLocked records an applied table change and logs it.
func (s *Server) noteChangeLocked(bt adminapi.BucketTable, version uint64, gained, lost int) {
	c := s.cfg
	s.bucketSt.Updates++
	s.bucketSt.LastChange = time.Now()
	s.bucketSt.Gained += int64(gained)
	s.bucketSt.Lost += int64(lost)
	s.bucketSt.Version = version
	s.lastBuckets = slices.Clone(bt.Buckets)
	s.group = bt.Group
	s.log.Info("bucket table changed", "tm", c.Name, "group", bt.Group, "version", version, "owned", owned(bt.Buckets, c.Name),
		"gained", gained, "lost", lost, "self_ports", s.tab.Len(), "free", s.tab.Free())
}

func owned(buckets []string, tm string) int {
	n := 0
	for _, b := range buckets {
		if b == tm {
			n++
		}
	}
	return n
}

// Handler serves GET /healthz ("ok": the controller's health check) and
// GET /stats (Stats as JSON).
//
// /healthz stays "ok" during the grace period: were the TM reported down,
// the controller would give its buckets to others and the replies of the
// connections it is finishing would go elsewhere.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.Stats())
	})
	mux.Handle("GET /metrics", s.metricsHandler())
	return mux
}

// httpMaxConns bounds the HTTP endpoint's connections (health checks,
// scrapes, /stats): past it a new one is reset and counted.
const httpMaxConns = 64

// startFetchFor is how long a starting TM keeps asking for its bucket table:
// the controller may be starting too, or not have reached a switch yet.
const startFetchFor = 30 * time.Second

// fetchAtStart fetches the bucket table, retrying transient failures with
// backoff for up to startFetchFor.
func fetchAtStart(ctx context.Context, src BucketSource, log *slog.Logger) (adminapi.BucketTable, error) {
	deadline := time.Now().Add(startFetchFor)
	retry := backoff.Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second}
	for {
		wait := retry.Next()
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		bt, err := src.Fetch(fctx)
		cancel()
		var transient *transientError
		if err == nil || !errors.As(err, &transient) || ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return bt, err
		}
		log.Warn("no bucket table yet; retrying", "source", src, "error", err, "in", wait)
		select {
		case <-ctx.Done():
			return bt, ctx.Err()
		case <-time.After(wait):
		}
	}
}
