// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/symdist/symdist/test/testbed"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/contract"
	"github.com/symdist/symdist/ports"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// halfTable gives tm1 the even buckets, tm2 the odd ones.
func halfTable() []string {
	b := make([]string, contract.DefaultBuckets)
	for i := range b {
		b[i] = []string{"tm1", "tm2"}[i%2]
	}
	return b
}

func writeBuckets(t *testing.T, path string, buckets []string) {
	t.Helper()
	data, err := json.Marshal(adminapi.BucketTable{Group: "web", Buckets: buckets})
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // atomic for the refresher
		t.Fatal(err)
	}
}

func bucketsFile(t *testing.T, buckets []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "buckets.json")
	writeBuckets(t, path, buckets)
	return path
}

// isSelfPort is contract section 5 spelled out: the key (SNAT, p) hashes
// to a bucket of tm1.
func isSelfPort(buckets []string, p uint16) bool {
	h := contract.Hash(contract.Key{Addr: loopback, Port: p})
	return buckets[contract.Bucket(h, len(buckets))] == "tm1"
}

// echoBackend accepts connections, records each one's source, sends its
// name and a newline, echoes until EOF, then sends "bye" and closes: the
// reply after the client's half-close.
type echoBackend struct {
	name string
	ln   net.Listener
	mu   sync.Mutex
	srcs []netip.AddrPort
}

func newEchoBackend(t *testing.T, name string) *echoBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &echoBackend{name: name, ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.srcs = append(b.srcs, c.RemoteAddr().(*net.TCPAddr).AddrPort())
			b.mu.Unlock()
			go func() {
				defer c.Close()
				fmt.Fprintf(c, "%s\n", b.name)
				if _, err := io.Copy(c, c); err != nil {
					return
				}
				io.WriteString(c, "bye")
			}()
		}
	}()
	return b
}

func (b *echoBackend) addr() string { return b.ln.Addr().String() }
func (b *echoBackend) port() uint16 { return uint16(b.ln.Addr().(*net.TCPAddr).Port) }
func (b *echoBackend) sources() []netip.AddrPort {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]netip.AddrPort(nil), b.srcs...)
}

// start runs a TM for the test; it is stopped at cleanup.
func start(t *testing.T, cfg Config) (*Server, context.CancelFunc) {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "tm1"
	}
	if cfg.Listen == nil {
		cfg.Listen = []string{"127.0.0.1:0"}
	}
	if cfg.SNAT == "" {
		cfg.SNAT = "127.0.0.1"
	}
	if cfg.Log == nil {
		cfg.Log = testLogger(t)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.Done():
		case <-time.After(5 * time.Second):
			t.Error("the TM did not stop")
		}
	})
	return s, cancel
}

// client is one connection through the TM.
type client struct {
	t *testing.T
	c *net.TCPConn
	r *bufio.Reader
}

func dial(t *testing.T, s *Server) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addrs()[0].String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return &client{t: t, c: c.(*net.TCPConn), r: bufio.NewReader(c)}
}

// hello reads the backend's name.
func (c *client) hello() string {
	c.t.Helper()
	line, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading the backend's name: %v", err)
	}
	return strings.TrimSpace(line)
}

// finish sends msg, half-closes and returns everything up to EOF.
func (c *client) finish(msg string) string {
	c.t.Helper()
	if _, err := io.WriteString(c.c, msg); err != nil {
		c.t.Fatal(err)
	}
	if err := c.c.CloseWrite(); err != nil {
		c.t.Fatal(err)
	}
	rest, err := io.ReadAll(c.r)
	if err != nil {
		c.t.Fatalf("reading the answer: %v", err)
	}
	return string(rest)
}

// settled reports whether no self port is in use (every connection over
// and its port back in the table). Held ports are not in use: the test's
// own clients bind ephemeral ports of 127.0.0.1 too, which may be self
// ports the TM then finds busy.
func settled(st Stats) bool {
	p := st.SelfPorts
	return int64(p.Table-p.Free) == p.Held
}

// Every backend connection comes from SNAT:p with p a self port of the TM
// greater than the server's port; the answer after the client's half-close
// arrives; the counters add up.
func TestSelfSourcePorts(t *testing.T) {
	buckets := halfTable()
	a, b := newEchoBackend(t, "a"), newEchoBackend(t, "b")
	s, _ := start(t, Config{Backends: []string{a.addr(), b.addr()}, BucketsFile: bucketsFile(t, buckets), HTTP: "127.0.0.1:0"})
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := dial(t, s)
			name := c.hello()
			msg := fmt.Sprintf("hello %d", i)
			if got, want := c.finish(msg), msg+"bye"; got != want {
				t.Errorf("via %s: got %q, want %q", name, got, want)
			}
		})
	}
	wg.Wait()
	testbed.Eventually(t, "all connections to end", 5*time.Second, func() bool { return s.Stats().Connections.Completed == n })

	ref, err := ports.Compute(buckets, "tm1", loopback, 1024)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, be := range []*echoBackend{a, b} {
		srcs := be.sources()
		total += len(srcs)
		for _, src := range srcs {
			if src.Addr() != loopback {
				t.Errorf("backend %s: connection from %s, want the SNAT address", be.name, src)
			}
			p := src.Port()
			if !ref.IsOwn(p) || !isSelfPort(buckets, p) {
				t.Errorf("backend %s: source port %d is not a self port of tm1", be.name, p)
			}
			if p <= be.port() {
				t.Errorf("backend %s: source port %d is not greater than the server's %d", be.name, p, be.port())
			}
		}
	}
	if total != n {
		t.Errorf("backends saw %d connections, want %d", total, n)
	}
	if len(a.sources()) != n/2 {
		t.Errorf("round-robin: backend a got %d of %d", len(a.sources()), n)
	}

	st := s.Stats()
	if c := st.Connections; c.Accepted != n || c.Active != 0 || c.Completed != n || c.Failed != 0 || c.Aborted != 0 || c.IdleTimeouts != 0 {
		t.Errorf("connections: %+v", c)
	}
	wantUp := int64(0)
	wantDown := int64(0)
	for i := range n {
		wantUp += int64(len(fmt.Sprintf("hello %d", i)))
		wantDown += int64(len(fmt.Sprintf("hello %d", i)) + 2 + len("bye")) // name line + echo + bye
	}
	if st.Bytes.ClientToServer != wantUp || st.Bytes.ServerToClient != wantDown {
		t.Errorf("bytes: %+v, want %d up, %d down", st.Bytes, wantUp, wantDown)
	}
	if st.SelfPorts.Connections != n || st.SelfPorts.OtherConnections != 0 {
		t.Errorf("self port connections: %+v", st.SelfPorts)
	}
	if st.SelfPorts.Table != ref.Len() || !settled(st) {
		t.Errorf("self ports: %+v; want table %d, all back", st.SelfPorts, ref.Len())
	}
	if st.Buckets.Group != "web" || st.Buckets.Owned != len(buckets)/2 || st.Mode != "self-ports" {
		t.Errorf("buckets: %+v, mode %s", st.Buckets, st.Mode)
	}

	// The same over HTTP.
	resp, err := http.Get("http://" + s.HTTPAddr().String() + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var hs Stats
	if err := json.NewDecoder(resp.Body).Decode(&hs); err != nil {
		t.Fatal(err)
	}
	if hs.Connections.Completed != n || hs.SelfPorts.Connections != n || hs.TM != "tm1" {
		t.Errorf("/stats: %+v", hs)
	}
	resp2, err := http.Get("http://" + s.HTTPAddr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("/healthz: %d %q", resp2.StatusCode, body)
	}
}

// When the server closes first, the port goes straight back to the table.
func TestServerClosesFirstReleasesPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\nhi")
			c.Close()
		}
	}()
	s, _ := start(t, Config{Backends: []string{ln.Addr().String()}, BucketsFile: bucketsFile(t, halfTable())})
	for range 5 {
		c := dial(t, s)
		got, err := io.ReadAll(c.r)
		if err != nil || !strings.HasSuffix(string(got), "hi") {
			t.Fatalf("got %q, %v", got, err)
		}
		c.c.Close()
	}
	testbed.Eventually(t, "the connections to end", 5*time.Second, func() bool { return s.Stats().Connections.Completed == 5 })
	st := s.Stats()
	if !settled(st) {
		t.Errorf("self ports: %+v, want all free", st.SelfPorts)
	}
}

// The server keeps talking after the client's FIN, and the client keeps
// talking after the server's FIN.
func TestHalfClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// Read the request to EOF (the client's FIN), then answer in
		// two parts with a pause: the client's half-close must not cut
		// the server's direction.
		req, _ := io.ReadAll(c)
		fmt.Fprintf(c, "got %d bytes;", len(req))
		time.Sleep(100 * time.Millisecond)
		io.WriteString(c, " done")
	}()
	s, _ := start(t, Config{Backends: []string{ln.Addr().String()}, BucketsFile: bucketsFile(t, halfTable())})
	c := dial(t, s)
	if got := c.finish(strings.Repeat("x", 100000)); got != "got 100000 bytes; done" {
		t.Errorf("got %q", got)
	}

	// The other way round: the server half-closes first and still reads.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	go func() {
		c, err := ln2.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "send me something\n")
		c.(*net.TCPConn).CloseWrite()
		req, _ := io.ReadAll(c)
		if string(req) != "something" {
			panic(fmt.Sprintf("server got %q", req))
		}
	}()
	s2, _ := start(t, Config{Backends: []string{ln2.Addr().String()}, BucketsFile: bucketsFile(t, halfTable())})
	c2 := dial(t, s2)
	if l := c2.hello(); l != "send me something" {
		t.Fatalf("got %q", l)
	}
	if _, err := c2.r.ReadByte(); err != io.EOF { // the server's FIN came through
		t.Fatalf("want EOF after the server's half-close, got %v", err)
	}
	io.WriteString(c2.c, "something")
	c2.c.CloseWrite()
	testbed.Eventually(t, "the connection to end", 5*time.Second, func() bool { return s2.Stats().Connections.Completed == 1 })
	st := s2.Stats()
	if st.Connections.Aborted != 0 || !settled(st) {
		t.Errorf("server-first close: %+v %+v", st.Connections, st.SelfPorts)
	}
}

// A connection idle both ways is closed after the idle timeout; one that
// moves in either direction is not.
func TestIdleTimeout(t *testing.T) {
	a := newEchoBackend(t, "a")
	const idle = 300 * time.Millisecond
	s, _ := start(t, Config{Backends: []string{a.addr()}, BucketsFile: bucketsFile(t, halfTable()), IdleTimeout: idle})

	busy := dial(t, s)
	busy.hello()
	quietC := dial(t, s)
	quietC.hello()
	t0 := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(quietC.r)
		done <- err
	}()
	// Keep the busy one moving (the echoes are read at the end).
	for range 8 {
		io.WriteString(busy.c, "x")
		time.Sleep(idle / 3)
	}
	select {
	case <-done:
		if el := time.Since(t0); el < idle {
			t.Errorf("the idle connection ended after %v, before the idle timeout", el)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the idle connection is still open")
	}
	if got := busy.finish("y"); got != "xxxxxxxxybye" {
		t.Errorf("the busy connection: got %q", got)
	}
	testbed.Eventually(t, "the connections to end", 5*time.Second, func() bool { return s.Stats().Connections.Completed == 2 })
	st := s.Stats()
	if st.Connections.IdleTimeouts != 1 {
		t.Errorf("idle timeouts: %d, want 1", st.Connections.IdleTimeouts)
	}
	if !settled(st) {
		t.Errorf("self ports: %+v", st.SelfPorts)
	}
}

func TestLeastConn(t *testing.T) {
	a, b := newEchoBackend(t, "a"), newEchoBackend(t, "b")
	s, _ := start(t, Config{Backends: []string{a.addr(), b.addr()}, BucketsFile: bucketsFile(t, halfTable()), Balance: LeastConn})
	held := map[string][]*client{}
	for range 4 {
		c := dial(t, s)
		name := c.hello()
		held[name] = append(held[name], c)
	}
	if len(held["a"]) != 2 || len(held["b"]) != 2 {
		t.Fatalf("4 connections on equal backends: a %d, b %d", len(held["a"]), len(held["b"]))
	}
	for _, c := range held["b"] {
		c.finish("")
	}
	testbed.Eventually(t, "b to be idle", 5*time.Second, func() bool { return s.Stats().Backends[1].Active == 0 })
	// a has 2, b 0: the next two go to b (round-robin would send one to a).
	for i := range 2 {
		c := dial(t, s)
		if name := c.hello(); name != "b" {
			t.Errorf("connection %d went to %s; a has 2 active, b %d", i, name, i)
		}
	}
	st := s.Stats()
	if st.Backends[0].Active != 2 || st.Backends[1].Active != 2 || st.Backends[1].Connections != 4 {
		t.Errorf("backends: %+v", st.Backends)
	}
}

// A dead backend is skipped; with no live backend the connection fails.
func TestBackendDown(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	a := newEchoBackend(t, "a")
	s, _ := start(t, Config{Backends: []string{deadAddr, a.addr()}, BucketsFile: bucketsFile(t, halfTable())})
	for range 4 {
		c := dial(t, s)
		if name := c.hello(); name != "a" {
			t.Fatalf("went to %s", name)
		}
		c.finish("")
	}
	testbed.Eventually(t, "completion", 5*time.Second, func() bool { return s.Stats().Connections.Completed == 4 })
	st := s.Stats()
	if st.Connections.Failed != 0 || st.Backends[0].Failed == 0 || st.Backends[1].Connections != 4 {
		t.Errorf("stats: %+v %+v", st.Connections, st.Backends)
	}

	s2, _ := start(t, Config{Backends: []string{deadAddr}, BucketsFile: bucketsFile(t, halfTable())})
	c := dial(t, s2)
	if _, err := c.r.ReadByte(); err == nil {
		t.Fatal("want the client connection closed")
	}
	testbed.Eventually(t, "the failure", 5*time.Second, func() bool { return s2.Stats().Connections.Failed == 1 })
	if st := s2.Stats(); !settled(st) || st.Connections.Active != 0 {
		t.Errorf("after a failed connect: %+v %+v", st.Connections, st.SelfPorts)
	}
}

// A self port the kernel already holds is skipped; when none is left the
// connection fails with the table exhausted.
func TestBusyPortsAndExhaustion(t *testing.T) {
	a := newEchoBackend(t, "a")
	// tm1 owns one bucket: the one of port 65535 (about 16 ports).
	buckets := make([]string, contract.DefaultBuckets)
	for i := range buckets {
		buckets[i] = "tm2"
	}
	buckets[contract.Bucket(contract.Hash(contract.Key{Addr: loopback, Port: 65535}), len(buckets))] = "tm1"
	ref, _ := ports.Compute(buckets, "tm1", loopback, 1024)
	var usable []uint16
	for _, p := range ref.Ports() {
		if p > a.port() {
			usable = append(usable, p)
		}
	}
	if len(usable) > portAttempts {
		t.Skipf("%d usable self ports, more than %d attempts", len(usable), portAttempts)
	}
	// Hold all but the last usable port with listeners.
	busy := 0
	for _, p := range usable[:len(usable)-1] {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Skipf("port %d is in use here: %v", p, err)
		}
		defer ln.Close()
		busy++
	}
	s, _ := start(t, Config{Backends: []string{a.addr()}, BucketsFile: bucketsFile(t, buckets)})
	c := dial(t, s)
	c.hello()
	srcs := a.sources()
	if len(srcs) != 1 || srcs[0].Port() != usable[len(usable)-1] {
		t.Fatalf("backend saw %v, want source port %d", srcs, usable[len(usable)-1])
	}
	if st := s.Stats().SelfPorts; st.Retries < int64(busy) || st.Held < int64(busy) {
		t.Errorf("self ports %+v: want at least %d retries and held", st, busy)
	}
	// Every usable port is now in use or set aside.
	c2 := dial(t, s)
	if _, err := c2.r.ReadByte(); err == nil {
		t.Fatal("want the second connection closed: no self port is left")
	}
	testbed.Eventually(t, "the failure", 5*time.Second, func() bool { return s.Stats().Connections.Failed == 1 })
}

func TestShutdownWaitsForActive(t *testing.T) {
	a := newEchoBackend(t, "a")
	s, cancel := start(t, Config{Backends: []string{a.addr()}, BucketsFile: bucketsFile(t, halfTable()), Grace: 5 * time.Second})
	vip := s.Addrs()[0].String()
	c := dial(t, s)
	c.hello()
	cancel()
	testbed.Eventually(t, "the listener to close", 5*time.Second, func() bool {
		nc, err := net.DialTimeout("tcp", vip, time.Second)
		if err == nil {
			nc.Close()
		}
		return err != nil
	})
	select {
	case <-s.Done():
		t.Fatal("stopped with a connection active")
	case <-time.After(200 * time.Millisecond):
	}
	// The connection still works, and when it ends the TM stops.
	if got := c.finish("still here"); got != "still herebye" {
		t.Errorf("got %q", got)
	}
	select {
	case <-s.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("did not stop after the last connection ended")
	}
	// (A probe may have been accepted before the listener closed.)
	if st := s.Stats(); st.Connections.Completed != st.Connections.Accepted || st.Connections.Active != 0 {
		t.Errorf("connections: %+v", st.Connections)
	}
}

func TestShutdownGraceExpires(t *testing.T) {
	a := newEchoBackend(t, "a")
	s, cancel := start(t, Config{Backends: []string{a.addr()}, BucketsFile: bucketsFile(t, halfTable()), Grace: 200 * time.Millisecond})
	c := dial(t, s)
	c.hello()
	t0 := time.Now()
	cancel()
	select {
	case <-s.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("did not stop after the grace period")
	}
	if el := time.Since(t0); el < 200*time.Millisecond {
		t.Errorf("stopped after %v, before the grace period", el)
	}
	if _, err := io.ReadAll(c.r); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("client read: %v", err)
	}
	if st := s.Stats(); st.Connections.Aborted != 1 || st.Connections.Active != 0 || !settled(st) {
		t.Errorf("after shutdown: %+v %+v", st.Connections, st.SelfPorts)
	}
}

// The table follows the file: gains become usable.
func TestRefresh(t *testing.T) {
	a := newEchoBackend(t, "a")
	buckets := halfTable()
	path := bucketsFile(t, buckets)
	s, _ := start(t, Config{Backends: []string{a.addr()}, BucketsFile: path, Refresh: 20 * time.Millisecond})
	before := s.Table().Len()
	more := append([]string(nil), buckets...)
	for i := 1; i < len(more); i += 4 { // tm2 goes down: a quarter more to tm1
		more[i] = "tm1"
	}
	writeBuckets(t, path, more)
	testbed.Eventually(t, "the update", 5*time.Second, func() bool { return s.Stats().Buckets.Updates == 1 })
	ref, _ := ports.Compute(more, "tm1", loopback, 1024)
	st := s.Stats()
	if s.Table().Len() != ref.Len() || st.Buckets.Gained != int64(ref.Len()-before) || st.Buckets.Lost != 0 {
		t.Errorf("after the update: %d self ports (want %d), %+v", s.Table().Len(), ref.Len(), st.Buckets)
	}
	// A broken file keeps the table.
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, "the error", 5*time.Second, func() bool { return s.Stats().Buckets.Errors > 0 })
	if s.Table().Len() != ref.Len() {
		t.Error("a broken file changed the table")
	}
	c := dial(t, s)
	c.hello()
	c.finish("")
	src := a.sources()[0].Port()
	if !isSelfPort(more, src) {
		t.Errorf("source port %d is not a self port of the new table", src)
	}
}

// --self-ports=false: the kernel picks; the TM counts which were self
// ports by chance.
func TestKernelPorts(t *testing.T) {
	a := newEchoBackend(t, "a")
	s, _ := start(t, Config{Backends: []string{a.addr()}, BucketsFile: bucketsFile(t, halfTable()), KernelPorts: true})
	for range 10 {
		c := dial(t, s)
		c.hello()
		c.finish("")
	}
	testbed.Eventually(t, "completion", 5*time.Second, func() bool { return s.Stats().Connections.Completed == 10 })
	st := s.Stats()
	self := int64(0)
	for _, src := range a.sources() {
		if src.Port() > a.port() && isSelfPort(halfTable(), src.Port()) {
			self++
		}
	}
	if st.Mode != "kernel-ports" || st.SelfPorts.Connections != self || st.SelfPorts.OtherConnections != 10-self {
		t.Errorf("stats %+v; backend saw %d self ports", st.SelfPorts, self)
	}
	if st.SelfPorts.Free != st.SelfPorts.Table {
		t.Error("kernel-ports mode took self ports from the table")
	}
}

func TestControllerSource(t *testing.T) {
	buckets := halfTable()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(adminapi.Status{Groups: []adminapi.GroupStatus{
			{Name: "dns", TMs: []adminapi.TMStatus{{Name: "tm9"}}},
			{Name: "web", TMs: []adminapi.TMStatus{{Name: "tm1"}, {Name: "tm2"}}},
		}})
	})
	mux.HandleFunc("GET /api/groups/{group}/buckets", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("group") != "web" {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"no such group"}`)
			return
		}
		json.NewEncoder(w).Encode(adminapi.BucketTable{Group: "web", Buckets: buckets})
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"missing or wrong bearer token"}`)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx := context.Background()

	bt, err := (&ControllerSource{URL: srv.URL + "/", Token: "s3cret", TM: "tm2"}).Fetch(ctx)
	if err != nil || bt.Group != "web" || len(bt.Buckets) != len(buckets) || bt.Buckets[1] != "tm2" {
		t.Fatalf("Fetch: %v, %v", bt.Group, err)
	}
	if _, err := (&ControllerSource{URL: srv.URL, Token: "wrong", TM: "tm2"}).Fetch(ctx); err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "bearer token") {
		t.Errorf("wrong token: %v", err)
	}
	if _, err := (&ControllerSource{URL: srv.URL, Token: "s3cret", TM: "tm7"}).Fetch(ctx); err == nil || !strings.Contains(err.Error(), `no TM "tm7"`) {
		t.Errorf("unknown TM: %v", err)
	}

	// The whole TM against it, polling (watch_test.go follows a watch).
	a := newEchoBackend(t, "a")
	s, _ := start(t, Config{Name: "tm2", Backends: []string{a.addr()}, Controller: srv.URL, Token: "s3cret", Poll: true})
	c := dial(t, s)
	c.hello()
	c.finish("")
	p := a.sources()[0].Port()
	if buckets[contract.Bucket(contract.Hash(contract.Key{Addr: loopback, Port: p}), len(buckets))] != "tm2" {
		t.Errorf("source port %d is not tm2's", p)
	}
	// A TM the controller does not know does not start.
	bad, err := New(Config{Name: "tm7", Listen: []string{"127.0.0.1:0"}, Backends: []string{a.addr()}, SNAT: "127.0.0.1", Controller: srv.URL, Token: "s3cret", Poll: true, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Start(ctx); err == nil || !strings.Contains(err.Error(), `no TM "tm7"`) {
		t.Errorf("unknown TM at start: %v", err)
	}
}

func TestBadConfig(t *testing.T) {
	file := bucketsFile(t, halfTable())
	ok := Config{Name: "tm1", Listen: []string{"127.0.0.1:0"}, Backends: []string{"127.0.0.1:8080"}, SNAT: "127.0.0.1", BucketsFile: file}
	if _, err := New(ok); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Listen = nil }, "at least one --listen"},
		{func(c *Config) { c.Listen = []string{"10.0.0.100"} }, `--listen "10.0.0.100": want ADDRESS:PORT`},
		{func(c *Config) { c.Listen = []string{"vip:80"} }, `"vip" is not an IP address`},
		{func(c *Config) { c.Listen = []string{"10.0.0.100:http"} }, `"http" is not a port`},
		{func(c *Config) { c.Listen = []string{"10.0.0.100:80", "10.0.0.100:80"} }, "given twice"},
		{func(c *Config) { c.Backends = nil }, "at least one --backend"},
		{func(c *Config) { c.Backends = []string{"web1:8080"} }, `--backend "web1:8080": want IP:PORT`},
		{func(c *Config) { c.Backends = []string{"10.2.0.10"} }, `--backend "10.2.0.10": want IP:PORT`},
		{func(c *Config) { c.Backends = []string{"10.2.0.10:0"} }, "port 0"},
		{func(c *Config) { c.Backends = []string{"10.2.0.10:65535"} }, "greater than 65535"},
		{func(c *Config) { c.Backends = []string{"[2001:db8::1]:80"} }, "not the same IP version"},
		{func(c *Config) { c.SNAT = "" }, "needs --snat"},
		{func(c *Config) { c.SNAT = "10.3.0" }, `--snat "10.3.0": not an IP address`},
		{func(c *Config) { c.SNAT = "0.0.0.0" }, "unicast"},
		{func(c *Config) { c.Balance = "random" }, `--balance "random": want round-robin or least-conn`},
		{func(c *Config) { c.IdleTimeout = -time.Second }, "--idle-timeout -1s: must not be negative"},
		{func(c *Config) { c.HTTP = "8081" }, `--http "8081"`},
		{func(c *Config) { c.BucketsFile = "" }, "needs --controller URL (or --buckets-file FILE)"},
		{func(c *Config) { c.Controller = "http://10.0.9.1:9090" }, "give one, not both"},
		{func(c *Config) { c.BucketsFile, c.Controller = "", "10.0.9.1:9090" }, `--controller "10.0.9.1:9090": want the admin API's URL`},
		{func(c *Config) { c.Name = "" }, "needs --name"},
	} {
		c := ok
		tc.edit(&c)
		_, err := New(c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error with %q, got %v", tc.want, err)
		}
	}
	// Kernel ports need no table.
	c := ok
	c.BucketsFile, c.Name, c.KernelPorts = "", "", true
	if _, err := New(c); err != nil {
		t.Errorf("kernel ports without a table: %v", err)
	}
	// Errors found at start.
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.BucketsFile = filepath.Join(t.TempDir(), "missing.json") }, "missing.json"},
		{func(c *Config) { c.SNAT = "192.0.2.1" }, "--snat 192.0.2.1: cannot bind it"},
	} {
		c := ok
		c.Log = testLogger(t)
		tc.edit(&c)
		s, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Start(context.Background())
		if tc.want == "--snat 192.0.2.1: cannot bind it" && err == nil {
			t.Log("192.0.2.1 is bindable here (ip_nonlocal_bind?); skipping that case")
			s.closeListeners()
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want a start error with %q, got %v", tc.want, err)
		}
	}
}

func TestPortBusy(t *testing.T) {
	for _, tc := range []struct {
		err              error
		busy, everywhere bool
	}{
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}, true, true},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)}, true, false}, // TIME_WAIT to that server
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("bind", syscall.EADDRNOTAVAIL)}, false, false},   // SNAT not local
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, false, false},
		{errors.New("other"), false, false},
	} {
		if busy, everywhere := portBusy(tc.err); busy != tc.busy || everywhere != tc.everywhere {
			t.Errorf("portBusy(%v) = %v, %v", tc.err, busy, everywhere)
		}
	}
}

// flakySource fails transiently a few times, then answers.
type flakySource struct {
	fails int
	calls int
	err   error
}

func (f *flakySource) Fetch(context.Context) (adminapi.BucketTable, error) {
	f.calls++
	if f.calls <= f.fails {
		return adminapi.BucketTable{}, f.err
	}
	return adminapi.BucketTable{Group: "g", Buckets: make([]string, 16)}, nil
}

func (f *flakySource) String() string { return "flaky" }

// A TM that starts before the controller has a table keeps asking; a
// permanent error (unknown TM) fails at once.
func TestFetchAtStartRetriesTransientErrors(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	f := &flakySource{fails: 3, err: &transientError{errors.New("HTTP 503")}}
	if _, err := fetchAtStart(context.Background(), f, log); err != nil || f.calls != 4 {
		t.Errorf("transient: err %v after %d calls, want success after 4", err, f.calls)
	}
	f = &flakySource{fails: 3, err: errors.New("no TM \"x\"")}
	if _, err := fetchAtStart(context.Background(), f, log); err == nil || f.calls != 1 {
		t.Errorf("permanent: err %v after %d calls, want failure after 1", err, f.calls)
	}
}
