// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"context"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/symdist/symdist/test/testbed"
)

func TestConnBudget(t *testing.T) {
	for _, tc := range []struct {
		name        string
		limit, open uint64
		want        int64
		wantErr     string
	}{
		{name: "unknown", limit: 0, open: 10, want: 0},
		{name: "unlimited", limit: 1 << 63, open: 10, want: 0},
		{name: "1024", limit: 1024, open: 10, want: (1024 - 10 - fdReserve) / 2},
		{name: "1,048,576", limit: 1 << 20, open: 40, want: (1<<20 - 40 - fdReserve) / 2},
		{name: "just room for one", limit: 10 + fdReserve + 3, open: 10, want: 1},
		{name: "no room", limit: 10 + fdReserve, open: 10, wantErr: "leaves no room for connections"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := connBudget(tc.limit, tc.open)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("connBudget(%d, %d) = %d, %v; want an error containing %q", tc.limit, tc.open, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("connBudget(%d, %d) = %d, %v; want %d", tc.limit, tc.open, got, err, tc.want)
			}
		})
	}
}

// startWithFDLimit runs a TM as start does, with RLIMIT_NOFILE taken to
// be limit.
func startWithFDLimit(t *testing.T, cfg Config, limit uint64) *Server {
	t.Helper()
	cfg.Name, cfg.Listen, cfg.SNAT = "tm1", []string{"127.0.0.1:0"}, "127.0.0.1"
	if cfg.Log == nil {
		cfg.Log = testLogger(t)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.fd.limit = limit
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-s.Done() })
	return s
}

// Row 8 of issue 21: idle clients, each under the per-client limit, no
// longer take the TM to its open file limit. Past the descriptor budget a
// new connection is reset and counted (once in the log), the ones open are
// served, and a normal client is served again once one ends.
func TestFDLimitRefusesBeforeExhaustion(t *testing.T) {
	a := newEchoBackend(t, "a")
	logs := &logBuffer{t: t}
	const n = 6
	s := startWithFDLimit(t, Config{Backends: []string{a.addr()}, BucketsFile: bucketsFile(t, halfTable()),
		MaxConnsPerClient: 100, IdleTimeout: time.Minute, Log: logs.logger()}, openFDs()+fdReserve+2*n+4)
	max := s.Stats().Limits.MaxConns
	// About n: descriptors other tests left may still be closing.
	if max < 3 || max > 2*n {
		t.Fatalf("budget of %d connections, want about %d", max, n)
	}
	var idle []*client
	for range max {
		c := dial(t, s)
		if got := c.hello(); got != "a" {
			t.Fatalf("connection %d within the budget: %q", len(idle)+1, got)
		}
		idle = append(idle, c)
	}
	for i := range 3 {
		c, err := net.DialTimeout("tcp", s.Addrs()[0].String(), 2*time.Second)
		if err != nil {
			continue // the reset came first
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("connection %d past the budget of %d was served", i+1, max)
		}
		c.Close()
	}
	testbed.Eventually(t, "the refusals", 5*time.Second, func() bool { return s.Stats().Connections.RefusedFDLimit == 3 })
	st := s.Stats()
	got := map[string]int64{"active": st.Connections.Active, "failed": st.Connections.Failed,
		"refused_fd_limit": st.Connections.RefusedFDLimit, "log lines": int64(logs.count("file descriptors nearly used up: refusing"))}
	want := map[string]int64{"active": max, "failed": 3, "refused_fd_limit": 3, "log lines": 1}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("past the budget (-want +got):\n%s", d)
	}
	if got := idle[0].finish("x"); got != "xbye" {
		t.Errorf("a connection within the budget: %q", got)
	}
	testbed.Eventually(t, "a connection to end", 5*time.Second, func() bool { return s.Stats().Connections.Active == max-1 })
	if got := dial(t, s).hello(); got != "a" {
		t.Errorf("a normal client after one ended: %q", got)
	}
}

// From 80% of the descriptor budget idle connections time out after
// BusyIdleTimeout, as from 80% of the self ports, however few self ports
// are in use.
func TestFDOccupancyShortensIdleTimeout(t *testing.T) {
	a := newEchoBackend(t, "a")
	logs := &logBuffer{t: t}
	const n = 10
	s := startWithFDLimit(t, Config{Backends: []string{a.addr()}, BucketsFile: bucketsFile(t, halfTable()),
		IdleTimeout: time.Minute, BusyIdleTimeout: 200 * time.Millisecond, Log: logs.logger()}, openFDs()+fdReserve+2*n+4)
	max := s.Stats().Limits.MaxConns
	for range (max*8 + 9) / 10 { // 80%, rounded up
		dial(t, s).hello()
	}
	if st := s.Stats(); !st.SelfPorts.High || st.SelfPorts.Occupancy >= highOccupancy {
		t.Errorf("at 80%% of %d connections: high %v, port occupancy %.3f; want high with few ports in use",
			max, st.SelfPorts.High, st.SelfPorts.Occupancy)
	}
	testbed.Eventually(t, "idle connections to time out", 5*time.Second, func() bool {
		st := s.Stats()
		return st.Connections.IdleTimeouts > 0 && !st.SelfPorts.High
	})
	if got := logs.count("file descriptors nearly used up: idle connections now time out sooner"); got != 1 {
		t.Errorf("%d warnings naming the file descriptors, want 1", got)
	}
}

// The HTTP endpoint holds at most httpMaxConns connections; past that one
// is reset and counted in symdist_tm_http_refused_total.
func TestHTTPEndpointConnectionLimit(t *testing.T) {
	s, _ := start(t, Config{Backends: []string{"127.0.0.1:1"}, BucketsFile: bucketsFile(t, halfTable()), HTTP: "127.0.0.1:0"})
	for range httpMaxConns {
		c, err := net.Dial("tcp", s.HTTPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	testbed.Eventually(t, "the connections to be accepted", 5*time.Second, func() bool { return s.http.Open() == httpMaxConns })
	if c, err := net.Dial("tcp", s.HTTPAddr().String()); err == nil {
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err == nil {
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Errorf("connection %d answered, want it reset", httpMaxConns+1)
			}
		}
	}
	testbed.Eventually(t, "the refusal", 5*time.Second, func() bool { return s.http.Refused() == 1 })
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `symdist_tm_http_refused_total{tm="tm1"} 1`; !strings.Contains(rec.Body.String(), want+"\n") {
		t.Errorf("/metrics lacks %q", want)
	}
}

// Row 14 of issue 21: a --buckets-file is one strict JSON value.
func TestBucketsFileStrict(t *testing.T) {
	good := `{"group":"web","buckets":["tm1","tm2"]}`
	for _, tc := range []struct {
		name, data, wantErr string
	}{
		{"one table", good, ""},
		{"two tables", good + `{"group":"web","buckets":["tm2","tm2"]}`, "data after the JSON value"},
		{"trailing garbage", good + `garbage`, "data after"},
		{"duplicate key", `{"group":"web","buckets":["tm1"],"buckets":["tm2"]}`, `duplicate key "buckets"`},
		{"unknown field", `{"group":"web","bucket":["tm1"]}`, "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "buckets.json")
			if err := os.WriteFile(path, []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			bt, err := (&FileSource{Path: path}).Fetch(context.Background())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Fetch: %v", err)
			case tc.wantErr == "" && !cmp.Equal(bt.Buckets, []string{"tm1", "tm2"}):
				t.Errorf("Fetch = %v, want tm1, tm2", bt.Buckets)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Fetch = %v, %v; want an error containing %q", bt.Buckets, err, tc.wantErr)
			}
		})
	}
}
