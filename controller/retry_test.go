// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/symdist/symdist/test/testbed"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// logCounter is a slog handler that keeps every record's time and message,
// so that a test can count how often something was logged.
type logCounter struct {
	store *logStore
	next  slog.Handler // echo, for -v; nil: none
}

type logStore struct {
	mu      sync.Mutex
	records []logLine
}

type logLine struct {
	at  time.Time
	msg string
}

func newLogCounter() *logCounter {
	h := &logCounter{store: &logStore{}}
	if testing.Verbose() {
		h.next = slog.NewTextHandler(os.Stderr, nil)
	}
	return h
}

func (h *logCounter) Enabled(context.Context, slog.Level) bool { return true }

func (h *logCounter) Handle(ctx context.Context, r slog.Record) error {
	h.store.mu.Lock()
	h.store.records = append(h.store.records, logLine{r.Time, r.Message})
	h.store.mu.Unlock()
	if h.next != nil {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *logCounter) WithAttrs(as []slog.Attr) slog.Handler {
	c := &logCounter{store: h.store}
	if h.next != nil {
		c.next = h.next.WithAttrs(as)
	}
	return c
}

func (h *logCounter) WithGroup(name string) slog.Handler {
	c := &logCounter{store: h.store}
	if h.next != nil {
		c.next = h.next.WithGroup(name)
	}
	return c
}

// count is how many records logged in [from, to) contain substr ("" for
// every record).
func (h *logCounter) count(substr string, from, to time.Time) int {
	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	n := 0
	for _, r := range h.store.records {
		if !r.at.Before(from) && r.at.Before(to) && strings.Contains(r.msg, substr) {
			n++
		}
	}
	return n
}

// maxPerSecond is the most records logged within any one second.
func (h *logCounter) maxPerSecond() (n int, at time.Time) {
	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	rs := h.store.records
	start := 0
	for end := range rs {
		for rs[end].at.Sub(rs[start].at) >= time.Second {
			start++
		}
		if end-start+1 > n {
			n, at = end-start+1, rs[start].at
		}
	}
	return n, at
}

// seizeWithHighestID makes a client with election id {2^64-1, 2^64-1} the
// switch's primary; release ends its stream.
func seizeWithHighestID(t *testing.T, addr string, deviceID uint64) (release func()) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	release = func() { cancel(); conn.Close() }
	t.Cleanup(release)
	stream, err := p4v1.NewP4RuntimeClient(conn).StreamChannel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = stream.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{Arbitration: &p4v1.MasterArbitrationUpdate{
		DeviceId: deviceID, ElectionId: &p4v1.Uint128{High: math.MaxUint64, Low: math.MaxUint64},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if msg.GetArbitration().GetStatus().GetCode() == int32(codes.OK) {
			return release
		}
	}
}

// Issue 11 item 3: a switch that saw election id {2^64-1, 2^64-1} can
// never be claimed. The controller used to retry the claim with no pause
// (158,000 "claiming it" lines in 20 s); now it backs off, says why, and
// shows it in status.
func TestClaimNoHigherElectionID(t *testing.T) {
	l := newLab(t)
	logs := newLogCounter()
	c, _ := startController(t, l.config(t, 10), logs, nil)
	testbed.Eventually(t, "initial programming", 10*time.Second, func() bool { return inSync(c) })

	release := seizeWithHighestID(t, l.client.addr, 1)
	testbed.Eventually(t, "the controller to see it is a backup", 10*time.Second, func() bool { return !c.Status().Switches[0].Primary })
	release()
	from := time.Now()
	const window = 3 * time.Second
	time.Sleep(window)
	claims := logs.count("claim", from, from.Add(window)) + logs.count("highest possible election id", from, from.Add(window))
	// Waits of at least 50, 100, 200, 400, 800 and 1,600 ms: at most 7
	// claims in 3 s; 10 leaves room for a slow machine.
	if claims > 10 {
		t.Errorf("%d claims logged in %v, want at most 10 (a busy loop)", claims, window)
	}
	if claims == 0 {
		t.Error("no claim logged: the controller did not try to take the switch back")
	}
	st := c.Status().Switches[0]
	if st.Primary || st.InSync || !strings.Contains(st.LastError, "2^64-1") {
		t.Errorf("status = %+v, want not primary, not in sync, and the election id named in last_error", st)
	}
	// The other switch is unaffected.
	if st := c.Status().Switches[1]; !st.Primary || !st.InSync {
		t.Errorf("server-side switch status = %+v, want primary and in sync", st)
	}
}

// Issue 11 item 2: `symdist switch` on SIGTERM closed its ports and
// waited in GracefulStop for the controller's stream, which never ended;
// the controller kept showing the switch connected, primary and in sync.
// Now its liveness probe notices within about fall x (interval + timeout).
func TestSwitchStopsServing(t *testing.T) {
	l := newLab(t)
	c, _ := runController(t, l.config(t, 10))
	testbed.Eventually(t, "initial programming", 10*time.Second, func() bool { return inSync(c) })

	l.server.served.Stall() // ports closed, the stream left hanging
	start := time.Now()
	testbed.Eventually(t, "status to show the stopped switch down", 10*time.Second, func() bool {
		st := c.Status().Switches[1]
		return !st.Connected && !st.Primary && !st.InSync
	})
	t.Logf("noticed after %v", time.Since(start).Round(time.Millisecond))
	if st := c.Status().Switches[0]; !st.Connected || !st.InSync {
		t.Errorf("the other switch: %+v, want connected and in sync", st)
	}
}

// A switch that accepts connections and drops them at once: the
// controller reconnects with backoff, not in a loop.
func TestReconnectBacksOff(t *testing.T) {
	l := newLab(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conn.Close()
		}
	}()
	cfg := l.config(t, 10)
	for i := range cfg.Switches {
		cfg.Switches[i].Address = ln.Addr().String()
	}
	_, stop := startController(t, cfg, slog.NewTextHandler(io.Discard, nil), nil)
	const window = 3 * time.Second
	time.Sleep(window)
	stop()
	// Per switch, waits of at least 50, 100, 200, 400, 800 and 1,600 ms:
	// 7 sessions in 3 s, each a connection or two (gRPC may dial twice).
	if n := accepted.Load(); n > 2*2*8 {
		t.Errorf("%d connections in %v from 2 switch loops, want at most 32", n, window)
	}
}

// Writes that keep failing: the sync is retried with backoff.
func TestSyncRetryBacksOff(t *testing.T) {
	var writes atomic.Int64
	failWrites := grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if strings.HasSuffix(info.FullMethod, "/Write") {
			writes.Add(1)
			return nil, status.Error(codes.Internal, "the test fails every write")
		}
		return h(ctx, req)
	})
	l := &lab{client: startSwitch(t, "", 1, failWrites), server: startSwitch(t, "", 2, failWrites)}
	for i := 0; i < 3; i++ {
		l.health = append(l.health, newHealthTarget(t))
	}
	c, stop := runController(t, l.config(t, 10))
	testbed.Eventually(t, "a first failed write", 10*time.Second, func() bool { return writes.Load() >= 2 })
	const window = 4 * time.Second
	start := writes.Load()
	time.Sleep(window)
	n := writes.Load() - start
	stop()
	// Per switch, retries after at least 250, 500, 1,000 and 2,000 ms: 5
	// syncs in 4 s, one Write each (the first phase fails).
	if n > 2*6 {
		t.Errorf("%d writes in %v from 2 switches, want at most 12", n, window)
	}
	if st := c.Status().Switches[0]; st.InSync || !strings.Contains(st.LastError, "the test fails every write") {
		t.Errorf("status = %+v, want not in sync and the write error shown", st)
	}
}

// Issue 11 item 2, the general case: a switch whose connection hangs (no
// byte through, no close: a hung process, a path dropping packets) is
// shown down once its liveness probes time out, and is back in sync once
// the connection works again.
func TestSwitchHangs(t *testing.T) {
	l := newLab(t)
	proxy := newChaosProxy(t, l.server.addr)
	cfg := l.config(t, 10)
	cfg.Switches[1].Address = proxy.addr()
	c, _ := runController(t, cfg)
	testbed.Eventually(t, "initial programming", 10*time.Second, func() bool { return inSync(c) })

	proxy.freeze()
	start := time.Now()
	// The default probe: every second, a 2 s deadline, 2 failures: about
	// 6 s at most; eventually allows 10.
	testbed.Eventually(t, "status to show the hung switch down", 10*time.Second, func() bool {
		st := c.Status().Switches[1]
		return !st.Connected && !st.InSync
	})
	t.Logf("noticed after %v", time.Since(start).Round(time.Millisecond))
	if st := c.Status().Switches[1]; !strings.Contains(st.LastError, "liveness") {
		t.Errorf("last_error %q does not say why", st.LastError)
	}
	proxy.thaw()
	testbed.Eventually(t, "the switch back in sync", 10*time.Second, func() bool { return inSync(c) })
}
