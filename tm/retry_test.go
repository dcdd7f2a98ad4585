// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/symdist/symdist/test/testbed"
)

// Every retry path of the TM backs off: each test counts attempts over a
// window against a source or listener that always fails.

// A bucket source that keeps failing is asked again after 1-2 refresh
// periods, then 2-4, up to 4-8: not every period.
func TestRefreshBacksOff(t *testing.T) {
	a := newEchoBackend(t, "a")
	path := bucketsFile(t, halfTable())
	const refresh = 20 * time.Millisecond
	s, _ := start(t, Config{Backends: []string{a.addr()}, BucketsFile: path, Refresh: refresh})
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, "the first failed refresh", 5*time.Second, func() bool { return s.Stats().Buckets.Errors > 0 })
	const window = time.Second
	before := s.Stats().Buckets.Fetches
	time.Sleep(window)
	n := s.Stats().Buckets.Fetches - before
	// Waits of at least 20, 40 and then 80 ms: about 13 fetches in 1 s at
	// most; a fixed period would make 50.
	if n > 15 {
		t.Errorf("%d fetches of a broken source in %v, want at most 15", n, window)
	}
	if n == 0 {
		t.Error("no fetch at all: the TM stopped trying")
	}
}

// At start, a controller that answers 503 (no table yet) is asked again
// with backoff until it has one.
func TestFetchAtStartBacksOff(t *testing.T) {
	var requests atomic.Int64
	ctl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer ctl.Close()
	const window = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	_, err := fetchAtStart(ctx, &ControllerSource{URL: ctl.URL, TM: "tm1"}, testLogger(t))
	if err == nil {
		t.Fatal("fetchAtStart succeeded against a controller that has no table")
	}
	// Waits of at least 50, 100, 200 and 400 ms: 5 requests in 1 s.
	if n := requests.Load(); n > 8 {
		t.Errorf("%d requests in %v, want at most 8", n, window)
	}
}

// failingListener fails every Accept, as a listener out of file
// descriptors does, until closed.
type failingListener struct {
	net.Listener
	accepts atomic.Int64
	closed  atomic.Bool
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.accepts.Add(1)
	if l.closed.Load() {
		return nil, net.ErrClosed
	}
	return nil, errors.New("accept: too many open files")
}

func (l *failingListener) Close() error { l.closed.Store(true); return nil }

func TestAcceptBacksOff(t *testing.T) {
	a := newEchoBackend(t, "a")
	s, _ := start(t, Config{Backends: []string{a.addr()}, BucketsFile: bucketsFile(t, halfTable())})
	ln := &failingListener{Listener: s.listeners[0]}
	s.accepting.Add(1)
	go s.accept(ln)
	const window = time.Second
	time.Sleep(window)
	n := ln.accepts.Load()
	ln.Close()
	// Waits of at least 2.5, 5, 10, ... 500 ms: 10 accepts in 1 s.
	if n > 12 {
		t.Errorf("%d accepts in %v, want at most 12", n, window)
	}
}
