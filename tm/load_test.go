// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symdist/symdist/test/testbed"

	"github.com/symdist/symdist/contract"
	"github.com/symdist/symdist/ports"
)

// logBuffer keeps the logs, for counting messages, and passes them to the
// test's log.
type logBuffer struct {
	t  *testing.T
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(p)
	l.mu.Unlock()
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (l *logBuffer) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), msg)
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// smallTable gives tm1 whole buckets of the ports above the backend's
// port, from 65535 down, until its table (from minPort = backend port + 1,
// so every self port is usable for this backend) has at least n ports.
func smallTable(t *testing.T, backendPort uint16, n int) (buckets []string, minPort uint16, table int) {
	t.Helper()
	buckets = make([]string, contract.DefaultBuckets)
	for i := range buckets {
		buckets[i] = "tm2"
	}
	// Self ports above the kernel's ephemeral range, so that no other
	// socket on this busy machine (the test's own clients among them) holds
	// one: a port taken elsewhere is skipped and the small table runs out.
	minPort = max(backendPort+1, ephemeralTop(t)+1)
	for p := uint16(65535); p > backendPort; p-- {
		buckets[contract.Bucket(contract.Hash(contract.Key{Addr: loopback, Port: p}), len(buckets))] = "tm1"
		tab, err := ports.Compute(buckets, "tm1", loopback, minPort)
		if err != nil {
			t.Fatal(err)
		}
		if tab.Len() >= n {
			return buckets, minPort, tab.Len()
		}
	}
	t.Skipf("fewer than %d ports above the backend's port %d", n, backendPort)
	return nil, 0, 0
}

// ephemeralTop is the last port of net.ipv4.ip_local_port_range.
func ephemeralTop(t *testing.T) uint16 {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 60999 // Linux's default
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		t.Fatalf("ip_local_port_range: %q", b)
	}
	top, err := strconv.Atoi(f[1])
	if err != nil || top >= 65535-100 {
		t.Skipf("ip_local_port_range %q leaves no ports above it for the test", b)
	}
	return uint16(top)
}

// One client address cannot hold more than MaxConnsPerClient connections:
// the next ones are reset and counted, other addresses are not held up,
// and the client gets its share back when a connection ends.
func TestPerClientLimit(t *testing.T) {
	a := newEchoBackend(t, "a")
	s, _ := start(t, Config{Backends: []string{a.addr()}, BucketsFile: bucketsFile(t, halfTable()), MaxConnsPerClient: 2})
	first, second := dial(t, s), dial(t, s)
	first.hello()
	second.hello()
	// Reset at once: the dial itself may see it.
	if third, err := net.DialTimeout("tcp", s.Addrs()[0].String(), 2*time.Second); err == nil {
		defer third.Close()
		_ = third.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := third.Read(make([]byte, 1)); err == nil {
			t.Fatal("the third connection of one address was served, want it refused")
		}
	}
	testbed.Eventually(t, "the refusal", 5*time.Second, func() bool { return s.Stats().Connections.RefusedClientLimit == 1 })
	if st := s.Stats(); st.Limits.Clients != 1 || st.Connections.Failed != 1 || st.Connections.Active != 2 {
		t.Errorf("limits %+v, connections %+v: want 1 client, 2 active, 1 failed", st.Limits, st.Connections)
	}
	// Another address (127.0.0.2 is loopback too) has its own limit.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 2 * time.Second}
	if other, err := d.Dial("tcp", s.Addrs()[0].String()); err != nil {
		t.Logf("no 127.0.0.2 here: %v", err)
	} else {
		defer other.Close()
		line := make([]byte, 2)
		_ = other.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(other, line); err != nil || string(line) != "a\n" {
			t.Errorf("another address: %q, %v", line, err)
		}
	}
	if got := first.finish("x"); got != "xbye" {
		t.Errorf("first connection: %q", got)
	}
	testbed.Eventually(t, "the first connection to end", 5*time.Second, func() bool { return s.Stats().Connections.Completed == 1 })
	again := dial(t, s)
	if got := again.hello(); got != "a" {
		t.Errorf("after a connection ended: %q", got)
	}
}

// Idle clients cannot keep the self ports: from 80% occupancy the idle
// timeout shrinks to BusyIdleTimeout, idle connections give their ports
// back until occupancy is under 70% (then the long timeout is back for
// the rest), and new connections get a port; each crossing is logged once,
// not per connection.
func TestIdleConnectionsGiveBackPortsWhenShort(t *testing.T) {
	a := newEchoBackend(t, "a")
	buckets, minPort, n := smallTable(t, a.port(), 10)
	logs := &logBuffer{t: t}
	const busyIdle = 200 * time.Millisecond
	s, _ := start(t, Config{Backends: []string{a.addr()}, BucketsFile: bucketsFile(t, buckets), MinPort: minPort,
		IdleTimeout: time.Minute, BusyIdleTimeout: busyIdle, Log: logs.logger()})
	if st := s.Stats().SelfPorts; st.Table != n {
		t.Fatalf("table of %d ports, want %d", st.Table, n)
	}
	const warning = "self-source ports nearly used up"
	reaped := int64(0)
	for round := 1; round <= 2; round++ {
		// Every self port taken by an idle client.
		idle := make([]*client, n)
		for i := range idle {
			idle[i] = dial(t, s)
			idle[i].hello()
		}
		if st := s.Stats(); st.SelfPorts.HighCrossings != int64(round) {
			t.Errorf("round %d: self ports %+v: want crossing %d", round, st.SelfPorts, round)
		}
		// Idle ones are reaped after the short timeout, not after a
		// minute, until occupancy is under 70%.
		testbed.Eventually(t, "idle connections to give back ports", 5*time.Second, func() bool {
			st := s.Stats()
			return !st.SelfPorts.High && st.Connections.IdleTimeouts > reaped
		})
		st := s.Stats()
		if st.SelfPorts.Occupancy >= lowOccupancy || st.Limits.IdleTimeoutNow != time.Minute.Seconds() {
			t.Errorf("round %d: self ports %+v, limits %+v: want under 70%%, idle timeout 1m again", round, st.SelfPorts, st.Limits)
		}
		reaped = st.Connections.IdleTimeouts
		// A new client gets a port and is served.
		c := dial(t, s)
		if got := c.hello(); got != "a" {
			t.Fatalf("round %d: new connection got %q", round, got)
		}
		if got := c.finish("z"); got != "zbye" {
			t.Errorf("round %d: new connection: %q", round, got)
		}
		for _, c := range idle {
			c.c.Close()
		}
		testbed.Eventually(t, "the ports to come back", 5*time.Second, func() bool { return settled(s.Stats()) })
		if got := logs.count(warning); got != round {
			t.Errorf("round %d: %d warnings %q, want %d (one per crossing)", round, got, warning, round)
		}
	}
}

// /metrics has what /stats has, in the Prometheus format.
func TestMetrics(t *testing.T) {
	a := newEchoBackend(t, "a")
	s, _ := start(t, Config{Backends: []string{a.addr()}, BucketsFile: bucketsFile(t, halfTable()), IdleTimeout: time.Minute})
	c := dial(t, s)
	c.hello()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	st := s.Stats()
	for _, want := range []string{
		fmt.Sprintf(`symdist_tm_self_ports{state="table",tm="tm1"} %d`, st.SelfPorts.Table),
		fmt.Sprintf(`symdist_tm_self_ports{state="in_use",tm="tm1"} %d`, st.SelfPorts.InUse),
		fmt.Sprintf(`symdist_tm_self_port_occupancy_ratio{tm="tm1"} %g`, st.SelfPorts.Occupancy),
		`symdist_tm_connections_total{outcome="accepted",tm="tm1"} 1`,
		`symdist_tm_connections_active{tm="tm1"} 1`,
		`symdist_tm_idle_timeout_seconds{tm="tm1"} 60`,
		`symdist_tm_clients{tm="tm1"} 1`,
		`symdist_tm_self_port_occupancy_high{tm="tm1"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if st.SelfPorts.InUse < 1 { // its port, and any held
		t.Errorf("in use %d, want at least 1", st.SelfPorts.InUse)
	}
}
