// SPDX-License-Identifier: Apache-2.0

package lab

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Result counts a batch of connections.
type Result struct {
	Connections, Failed int
	Requests, OK        int
}

// Connection opens one TCP connection from client address index c to the
// VIP and sends n HTTP/1.1 requests on it; it reports how many succeeded.
func (l *Lab) Connection(c, n int, timeout time.Duration) (ok int, err error) {
	ok, _, err = l.connection(c, n, timeout, nil)
	return ok, err
}

// connection is Connection; opened, if not nil, gets the connection's
// local address as soon as it is connected.
func (l *Lab) connection(c, n int, timeout time.Duration, opened func(*net.TCPAddr)) (ok int, local *net.TCPAddr, err error) {
	local = &net.TCPAddr{IP: net.IPv4(10, 1, 0, byte(1+c%Clients))}
	return requests(l.ClientNS(), local, VIP+":80", n, timeout, opened)
}

// requests connects from local in namespace ns to addr and sends n HTTP/1.1
// requests, each naming the client's address in X-Client; it reports how
// many succeeded.
func requests(ns string, local *net.TCPAddr, addr string, n int, timeout time.Duration, opened func(*net.TCPAddr)) (ok int, _ *net.TCPAddr, err error) {
	conn, local, err := dialFrom(ns, local, addr, timeout)
	if err != nil {
		return 0, local, err // local: where it came from, if it got that far
	}
	defer conn.Close()
	if opened != nil {
		opened(local)
	}
	br := bufio.NewReader(conn)
	for i := 0; i < n; i++ {
		conn.SetDeadline(time.Now().Add(timeout))
		if _, err := fmt.Fprintf(conn, "GET /%d HTTP/1.1\r\nHost: vip\r\nX-Client: %s\r\n\r\n", i, local); err != nil {
			return ok, local, err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return ok, local, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(string(body), "hello") {
			return ok, local, fmt.Errorf("request %d: %v %q", i, err, body)
		}
		ok++
	}
	return ok, local, nil
}

// Run opens conns connections, parallel at most par at a time, each with
// reqs requests.
func (l *Lab) Run(conns, reqs, par int, timeout time.Duration) (Result, []error) {
	var mu sync.Mutex
	var errs []error
	res := Result{Connections: conns, Requests: conns * reqs}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ok, err := l.Connection(i, reqs, timeout)
			mu.Lock()
			res.OK += ok
			if err != nil {
				res.Failed++
				errs = append(errs, err)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return res, errs
}

// Steady opens new connections at a steady rate, each with one request,
// until Stop; every connection comes from a new client port.
type Steady struct {
	l         *Lab
	stop      chan struct{}
	wg        sync.WaitGroup
	mu        sync.Mutex
	started   time.Time
	res       SteadyResult
	durations []time.Duration
}

// SteadyResult is what a Steady run saw.
type SteadyResult struct {
	Result
	Failures        []Failure
	Median, Longest time.Duration // of the connections' lifetimes
}

// Failure is one failed connection.
type Failure struct {
	N             int          // the connection's number in the run
	From          *net.TCPAddr // its client address (also of a handshake that failed); nil: it never had one
	Opened, Ended time.Time
	Err           error
}

func (f Failure) String() string {
	return fmt.Sprintf("connection %d from %v failed after %v: %v", f.N, f.From, f.Ended.Sub(f.Opened).Round(time.Millisecond), f.Err)
}

// StartSteady opens perSecond connections a second, each given timeout.
func (l *Lab) StartSteady(perSecond int, timeout time.Duration) *Steady {
	return l.startSteady(perSecond, func(i int) (int, *net.TCPAddr, error) { return l.connection(i, 1, timeout, nil) })
}

// startSteady is StartSteady with connect making connection i: it
// returns its successful requests and its client address.
func (l *Lab) startSteady(perSecond int, connect func(i int) (int, *net.TCPAddr, error)) *Steady {
	s := &Steady{l: l, stop: make(chan struct{}), started: time.Now()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				opened := time.Now()
				ok, local, err := connect(i)
				ended := time.Now()
				s.mu.Lock()
				defer s.mu.Unlock()
				s.res.Connections++
				s.res.Requests++
				s.res.OK += ok
				s.durations = append(s.durations, ended.Sub(opened))
				if err != nil {
					s.res.Failed++
					s.res.Failures = append(s.res.Failures, Failure{N: i, From: local, Opened: opened, Ended: ended, Err: err})
				}
			}()
		}
	}()
	return s
}

// Stop stops opening connections, waits for the open ones and returns
// what they saw.
func (s *Steady) Stop() SteadyResult {
	close(s.stop)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.durations); n > 0 {
		slices.Sort(s.durations)
		s.res.Median, s.res.Longest = s.durations[n/2], s.durations[n-1]
	}
	return s.res
}

// Outcome is how a connection of killWhileOpen ended: the TM it was on
// (empty: it never opened) and its error.
type Outcome struct {
	Owner string
	Err   error
}

// killWhileOpen opens n connections (connect calls opened once its
// connection is up, and returns the client address), waits until every
// one is open or has failed, calls kill, and returns how each ended, on
// the TM owner names for its client address. opened returns only after
// kill has: every connection sends its requests across the kill, so each
// one on the victim must fail and each other must not, however fast the
// switches are.
func killWhileOpen(n int, connect func(i int, opened func(*net.TCPAddr)) (*net.TCPAddr, error),
	owner func(*net.TCPAddr) string, kill func()) []Outcome {
	done := make(chan Outcome, n)
	killed := make(chan struct{})
	var opened sync.WaitGroup
	opened.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			once := sync.OnceFunc(opened.Done)
			defer once()
			var wasOpen bool
			local, err := connect(i, func(*net.TCPAddr) { wasOpen = true; once(); <-killed })
			o := Outcome{Err: err}
			if local != nil && wasOpen { // one that never opened failed before the kill
				o.Owner = owner(local)
			}
			done <- o
		}()
	}
	opened.Wait()
	kill()
	close(killed)
	out := make([]Outcome, n)
	for i := range out {
		out[i] = <-done
	}
	return out
}
