// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/symdist/symdist/test/testbed"
)

// counterValue reads counter name{reason} from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{reason=%q}", name, reason)
	return 0
}

// testBounds are adminBounds short enough for a test.
var testBounds = adminBounds{readHeader: 200 * time.Millisecond, read: 300 * time.Millisecond,
	write: 300 * time.Millisecond, idle: 300 * time.Millisecond, maxHeader: 4 << 10, maxConns: 8, ping: 50 * time.Millisecond}

// serveAdmin runs c's admin API with bounds b on a loopback port and
// returns its address.
func serveAdmin(t *testing.T, c *Controller, b adminBounds) string {
	c.adminBounds = b
	return testbed.ServeAdmin(t, c)
}

// sendRaw connects to the admin API at addr and writes req as it is (no
// HTTP client between: the bounds tests send what a client would not).
// The connection is closed when the test ends.
func sendRaw(t *testing.T, addr, req string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	return conn
}

// closedWithin reports whether the server closes conn within d: reads
// (of any answer) end in EOF or a reset.
func closedWithin(conn net.Conn, d time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, os.ErrDeadlineExceeded)
}

// Row 7 of issue 21: a peer that leaves a connection idle, or never sends
// the body it announced, with or without a token, no longer holds it.
func TestAdminConnectionsBounded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		token string
		send  string // what the peer sends, and then nothing
	}{
		{name: "idle after one request",
			send: "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
		{name: "idle after a 401", token: "s3cret",
			send: "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
		{name: "body never comes",
			send: "POST /api/tms/tm1/weight HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"wei"},
		{name: "body never comes, with a token", token: "s3cret",
			send: "POST /api/tms/tm1/weight HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer s3cret\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"wei"},
		{name: "body never comes, 401", token: "s3cret",
			send: "POST /api/tms/tm1/weight HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"wei"},
		{name: "nothing at all",
			send: ""},
		{name: "header never ends",
			send: "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Admin.Token = tc.token
			c, err := New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			conn := sendRaw(t, serveAdmin(t, c, testBounds), tc.send)
			if !closedWithin(conn, 3*time.Second) {
				t.Errorf("connection still open 3 s later (bounds: read header %v, read %v, idle %v)",
					testBounds.readHeader, testBounds.read, testBounds.idle)
			}
		})
	}
}

// Past maxConns a connection is reset at once and counted; the admin API
// answers again once one closes.
func TestAdminConnectionLimit(t *testing.T) {
	c, err := New(testConfig(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	b := testBounds
	b.readHeader, b.read, b.idle = time.Minute, time.Minute, time.Minute // the idle ones stay
	b.maxConns = 4
	addr := serveAdmin(t, c, b)
	var idle []net.Conn
	for range b.maxConns {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		idle = append(idle, conn)
	}
	status := func() error {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.WriteString(conn, "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	for i := range 3 {
		if err := status(); err == nil {
			t.Fatalf("request %d past the limit answered", i)
		}
	}
	if got := counterValue(t, c.metrics.reg, "symdist_admin_refused_total", refusedConnLimit); got != 3 {
		t.Errorf("symdist_admin_refused_total{reason=%q} = %v, want 3", refusedConnLimit, got)
	}
	idle[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := status()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer after an idle connection closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A watch stream outlives the read, write and idle timeouts: its handler
// lifts the read deadline and extends the write deadline per line.
func TestAdminWatchOutlivesTimeouts(t *testing.T) {
	c, err := New(testConfig(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	conn := sendRaw(t, serveAdmin(t, c, testBounds), "GET /api/watch?group=web HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	r := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("watch: HTTP %d", resp.StatusCode)
	}
	lines := bufio.NewReader(resp.Body)
	hello, err := lines.ReadString('\n')
	if err != nil || !strings.Contains(hello, `"hello"`) {
		t.Fatalf("first line %q, %v; want the hello", hello, err)
	}
	// Pings for 5 x the timeouts: the stream must stay open.
	end := time.Now().Add(5 * testBounds.write)
	pings := 0
	for time.Now().Before(end) {
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		line, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("the watch stream ended after %d pings: %v (the server's timeouts killed it)", pings, err)
		}
		if strings.Contains(line, `"ping"`) {
			pings++
		}
	}
}

// Every refusal is counted by reason.
func TestAdminRefusalsCounted(t *testing.T) {
	cfg := testConfig(t)
	cfg.Admin.Token = "s3cret"
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler("s3cret"))
	defer srv.Close()
	for _, tc := range []struct{ auth, body string }{
		{"", `{"weight":2}`},
		{"Bearer wrong", `{"weight":2}`},
		{"Bearer s3cret", `{"weight":2}{"weight":900}`},
		{"Bearer s3cret", `{"weight":2,"weight":3}`},
		{"Bearer s3cret", `{}`},
	} {
		req, _ := http.NewRequest("POST", srv.URL+"/api/tms/tm1/weight", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	got := map[string]float64{}
	for _, r := range []string{refusedUnauthorized, refusedBadBody, refusedStaleAck, refusedConnLimit} {
		got[r] = counterValue(t, c.metrics.reg, "symdist_admin_refused_total", r)
	}
	want := map[string]float64{refusedUnauthorized: 2, refusedBadBody: 3, refusedStaleAck: 0, refusedConnLimit: 0}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("symdist_admin_refused_total by reason (-want +got):\n%s", d)
	}
}
