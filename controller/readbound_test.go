// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/test/testbed"
	"google.golang.org/grpc"
)

// lyingSwitch takes the pipeline and every write like recordingSwitch,
// but answers each Read with the same bucket entry, again and again (at
// most max times, so that a controller without a bound ends its read).
type lyingSwitch struct {
	*recordingSwitch
	entry *p4v1.Entity
	max   int
}

func (l *lyingSwitch) Read(_ *p4v1.ReadRequest, s p4v1.P4Runtime_ReadServer) error {
	return testbed.RepeatEntity(s, l.entry, l.max)
}

// syncedBuffer is a log sink the controller writes from its goroutines.
type syncedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// metric reads one sample from a /metrics page (0 when absent).
func metric(t *testing.T, url, sample string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A switch that answers the controller's sync Read with one entry
// millions of times is refused at the second copy: the sync fails saying
// so, every refusal is counted, one line is logged per minute, and the
// controller's heap stays small while it retries.
func TestSyncRefusesLyingSwitch(t *testing.T) {
	ids, err := p4info.MustLoad().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sw := &lyingSwitch{recordingSwitch: &recordingSwitch{}, entry: entries.Builder{IDs: ids}.Bucket(1, 7, 1), max: 300_000}
	gs := grpc.NewServer()
	p4v1.RegisterP4RuntimeServer(gs, sw)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)

	var logs syncedBuffer
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base, peak := m.HeapAlloc, m.HeapAlloc
	c, stop := startController(t, targetConfig(t, ln.Addr().String(), "bmv2"), slog.NewTextHandler(&logs, nil), nil)
	defer stop()
	api := httptest.NewServer(c.Handler(""))
	defer api.Close()
	const refused = `symdist_switch_reads_refused_total{reason="duplicate",switch="sw"}`
	// Up to 20 s for three refused syncs, the heap sampled throughout.
	for deadline := time.Now().Add(20 * time.Second); metric(t, api.URL, refused) < 3; time.Sleep(20 * time.Millisecond) {
		runtime.ReadMemStats(&m)
		peak = max(peak, m.HeapAlloc)
		if time.Now().After(deadline) {
			t.Errorf("%s = %v after 20 s, want 3 or more", refused, metric(t, api.URL, refused))
			break
		}
	}
	runtime.ReadMemStats(&m)
	peak = max(peak, m.HeapAlloc)
	st := c.Status()
	if len(st.Switches) != 1 || !strings.Contains(st.Switches[0].LastError, "answered the same entity of table SymdistIngress.tm_select.bucket_table twice") {
		t.Errorf("switch status %+v: want the duplicate named", st.Switches)
	}
	if st.Switches[0].InSync {
		t.Error("the switch is in sync after a refused read")
	}
	if n := strings.Count(logs.String(), "refusing a switch's Read answer"); n != 1 {
		t.Errorf("%d refusal lines logged for 3 refusals within a minute, want 1", n)
	}
	if grew := int64(peak) - int64(base); grew > 64<<20 {
		t.Errorf("heap grew by %d MiB, want under 64 MiB", grew>>20)
	} else {
		t.Logf("heap grew by at most %.1f MiB", float64(grew)/(1<<20))
	}
}
