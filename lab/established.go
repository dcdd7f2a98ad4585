// SPDX-License-Identifier: Apache-2.0

package lab

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The established step: long-lived connections opened before the planned
// changes (join, weight change, drain, undrain, config apply) and kept
// busy through all of them, data both ways every EstablishedEvery (the
// client sends a request, the server answers). Without chaining, each one
// whose bucket moves (its client key, or the key of the TM's connection
// to the server) breaks; with it, none may.

// EstablishedConnections is how many the step keeps open, spread over
// every VIP (IPv4 and IPv6).
const EstablishedConnections = 100

// EstablishedEvery is how often each connection carries a request.
const EstablishedEvery = 100 * time.Millisecond

// EstablishedDeadline is how long a request may take before its
// connection counts as broken (stalled). Long enough for TCP to resend
// across a few lost packets (200 ms, then doubling): a debug build of bmv2
// on a loaded 2-core machine drops frames while chained traffic crosses it
// twice.
const EstablishedDeadline = 15 * time.Second

// established is the step's connections while they run.
type established struct {
	r     *Rehearsal
	conns []*estConn
	stop  chan struct{}
	wg    sync.WaitGroup
	// owners are the group tables at the start and after each change.
	mu     sync.Mutex
	tables []map[string][]string
	ends   []stepEnd // when each change's step ended
}

type stepEnd struct {
	name string
	at   time.Time
}

type estConn struct {
	vip   Virtual
	local *net.TCPAddr
	mu    sync.Mutex
	err   error // the first failure; nil while it works
	at    time.Time
	ok    int
}

// startEstablished opens n connections and keeps them busy.
func (r *Rehearsal) startEstablished(n int) (*established, error) {
	e := &established{r: r, stop: make(chan struct{})}
	e.snapshot()
	for i := range n {
		v := r.VIPs[i%len(r.VIPs)]
		conn, local, err := dialFrom(r.ClientNS(), r.client(v, i), v.String(), 5*time.Second)
		if err != nil {
			e.finish()
			return nil, fmt.Errorf("established connection %d to %s: %w", i, v, err)
		}
		c := &estConn{vip: v, local: local}
		e.conns = append(e.conns, c)
		e.wg.Add(1)
		go e.run(c, conn)
	}
	return e, nil
}

// run sends a request every EstablishedEvery until stopped or failed.
func (e *established) run(c *estConn, conn net.Conn) {
	defer e.wg.Done()
	defer conn.Close()
	br := bufio.NewReader(conn)
	tick := time.NewTicker(EstablishedEvery)
	defer tick.Stop()
	for i := 0; ; i++ {
		err := func() error {
			_ = conn.SetDeadline(time.Now().Add(EstablishedDeadline))
			if _, err := fmt.Fprintf(conn, "GET /established/%d HTTP/1.1\r\nHost: vip\r\nX-Client: %s\r\n\r\n", i, c.local); err != nil {
				return err
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && (resp.StatusCode != 200 || !strings.HasPrefix(string(body), "hello")) {
				err = fmt.Errorf("HTTP %d %q", resp.StatusCode, body)
			}
			return err
		}()
		c.mu.Lock()
		if err != nil {
			c.err, c.at = err, time.Now()
			go e.r.snapshotStall(c)
		} else {
			c.ok++
		}
		c.mu.Unlock()
		if err != nil {
			return
		}
		select {
		case <-e.stop:
			return
		case <-tick.C:
		}
	}
}

// during names the step that was running at t.
func (e *established) during(t time.Time) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.ends {
		if t.Before(s.at) {
			return s.name
		}
	}
	return "after the changes"
}

// ended notes that the step called name ended now.
func (e *established) ended(name string) {
	e.mu.Lock()
	e.ends = append(e.ends, stepEnd{name, time.Now()})
	e.mu.Unlock()
}

// snapshot records the group tables as they are now.
func (e *established) snapshot() {
	t := map[string][]string{}
	for _, g := range e.r.Config.Groups {
		if b, err := e.r.Controller.Buckets(g.Name); err == nil {
			t[g.Name] = b
		}
	}
	e.mu.Lock()
	e.tables = append(e.tables, t)
	e.mu.Unlock()
}

// finish stops the connections.
func (e *established) finish() {
	close(e.stop)
	e.wg.Wait()
}

// ownerHistory is, for a connection's client key and the key of its TM's
// connection to the server, the owner of its bucket at the start and after
// each change.
func (e *established) ownerHistory(c *estConn) (keys []*net.TCPAddr, owners [][]string) {
	keys = []*net.TCPAddr{c.local}
	if s, ok := e.r.served.Load(c.local.String()); ok {
		if a, err := net.ResolveTCPAddr("tcp", s.(string)); err == nil {
			keys = append(keys, a)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, k := range keys {
		var os []string
		for _, t := range e.tables {
			if b := t[c.vip.Group]; b != nil {
				os = append(os, owner(b, k))
			}
		}
		owners = append(owners, os)
	}
	return keys, owners
}

// moved says how many times a connection's client bucket, or the bucket
// of its TM's connection to the server, changed owner over the steps (the
// larger of the two).
func (e *established) moved(c *estConn) int {
	_, owners := e.ownerHistory(c)
	most := 0
	for _, os := range owners {
		moves := 0
		for i := 1; i < len(os); i++ {
			if os[i] != os[i-1] {
				moves++
			}
		}
		most = max(most, moves)
	}
	return most
}

// history says the owners of ownerHistory, one key after the other.
func (e *established) history(c *estConn) string {
	keys, owners := e.ownerHistory(c)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.String() + ": " + strings.Join(owners[i], ">")
	}
	return strings.Join(out, ", ")
}

// step ends the connections and says how they fared: every one must have
// lasted through every change.
func (e *established) step() Step {
	e.finish()
	e.r.saveChainMetrics()
	s := Step{Name: "established", Connections: len(e.conns)}
	moved, brokeMoved := 0, 0
	brokeByMoves := map[int]int{}
	brokeIn := map[string]int{}
	var errs []error
	for _, c := range e.conns {
		m := e.moved(c)
		if m > 0 {
			moved++
		}
		if c.err != nil {
			s.Failed++
			brokeByMoves[m]++
			brokeIn[e.during(c.at)]++
			if m > 0 {
				brokeMoved++
			}
			errs = append(errs, fmt.Errorf("%s -> %s after %d requests, in %s (owners %s): %w", c.local, c.vip, c.ok, e.during(c.at), e.history(c), c.err))
		}
	}
	for i, err := range errs {
		if i < 8 && e.r.Opts.Log != nil {
			e.r.Opts.Log.Warn("established connection broke", "err", err)
		}
	}
	if s.Failed > 0 {
		s.Problems = append(s.Problems, fmt.Sprintf("%d of %d long-lived connections broke (%d of the %d whose bucket moved; by moves of their bucket: %v; by step: %v): first %v",
			s.Failed, s.Connections, brokeMoved, moved, brokeByMoves, brokeIn, errors.Join(errs[0])))
	}
	s.Moved = moved
	return s
}

// saveChainMetrics writes each running TM's chaining counters to
// DIR/TM.chain (what its agent did), for the logs of a failed step.
func (r *Rehearsal) saveChainMetrics() {
	c := http.Client{Timeout: time.Second, Transport: direct}
	for _, t := range r.TMs {
		resp, err := c.Get(fmt.Sprintf("http://%s/metrics", net.JoinHostPort(t.Mgmt, fmt.Sprint(t.HTTPPort))))
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		var lines []string
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, "symdist_chain_") {
				lines = append(lines, l)
			}
		}
		_ = os.WriteFile(filepath.Join(r.Opts.Dir, t.Name+".chain"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	}
}

// snapshotStall writes, when a connection breaks, what every namespace
// knows of it right then to DIR/broken-PORT.txt: the sockets (ss: send
// queue, retransmissions, timers) and the connection tracking entries
// that name its client port or its TM's port to the server. It is what
// tells a packet lost on the way from a socket no one answers.
func (r *Rehearsal) snapshotStall(c *estConn) {
	if r.Opts.Dir == "" {
		return
	}
	ports := []string{fmt.Sprint(c.local.Port)}
	if s, ok := r.served.Load(c.local.String()); ok {
		if a, err := net.ResolveTCPAddr("tcp", s.(string)); err == nil {
			ports = append(ports, fmt.Sprint(a.Port))
		}
	}
	match := func(line string) bool {
		for _, p := range ports {
			if strings.Contains(line, ":"+p+" ") || strings.Contains(line, "]:"+p) || strings.Contains(line, "port="+p+" ") {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s -> %s broke at %s: %v (ports %v)\n", c.local, c.vip, c.at.Format(time.RFC3339Nano), c.err, ports)
	nss := []string{r.ClientNS(), r.ServerNS()}
	for _, t := range r.TMs {
		nss = append(nss, t.NS)
	}
	for _, ns := range nss {
		fmt.Fprintf(&b, "== %s\n", ns)
		for _, cmd := range [][]string{{"ss", "-tnioe", "state", "all"}, {"cat", "/proc/net/nf_conntrack"}} {
			out, _ := exec.Command("ip", append([]string{"netns", "exec", ns}, cmd...)...).CombinedOutput()
			lines := strings.Split(string(out), "\n")
			for i, l := range lines {
				if match(l) {
					b.WriteString(l + "\n")
					if cmd[0] == "ss" && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t") {
						b.WriteString(lines[i+1] + "\n") // ss puts the details on the next line
					}
				}
			}
		}
	}
	_ = os.WriteFile(filepath.Join(r.Opts.Dir, fmt.Sprintf("broken-%d.txt", c.local.Port)), []byte(b.String()), 0o644)
}
