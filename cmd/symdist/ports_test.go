// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/adminapi/adminapitest"
	"github.com/symdist/symdist/assign"
	"github.com/symdist/symdist/contract"
	"github.com/symdist/symdist/ports"
)

// fakeController serves the two admin API calls `symdist ports` makes.
func fakeController(t *testing.T) (*httptest.Server, []string) {
	at, err := assign.New(4096, []assign.TM{{Name: "tm1", Weight: 1, Up: true}, {Name: "tm2", Weight: 1, Up: true}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/status", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(adminapi.Status{Groups: []adminapi.GroupStatus{{Name: "web", TMs: []adminapi.TMStatus{{Name: "tm1"}, {Name: "tm2"}}}}})
	})
	mux.HandleFunc("/api/groups/web/buckets", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(adminapi.BucketTable{Group: "web", Buckets: at.Buckets})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, at.Buckets
}

func runCmd(t *testing.T, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// parseRanges expands "a-b,c".
func parseRanges(t *testing.T, s string) map[int]bool {
	set := map[int]bool{}
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, ok := strings.Cut(part, "-")
		a, _ := strconv.Atoi(lo)
		b := a
		if ok {
			b, _ = strconv.Atoi(hi)
		}
		for p := a; p <= b; p++ {
			set[p] = true
		}
	}
	return set
}

func TestPortsFormats(t *testing.T) {
	srv, buckets := fakeController(t)
	snat := netip.MustParseAddr("10.3.0.1")
	owner := func(p int) string {
		return buckets[contract.Bucket(contract.Hash(contract.Key{Addr: snat, Port: uint16(p)}), 4096)]
	}
	out, err := runCmd(t, "ports", "--controller", srv.URL, "--tm", "tm1", "--snat", "10.3.0.1", "--format", "ranges")
	if err != nil {
		t.Fatal(err)
	}
	own := parseRanges(t, out)
	for p := 1024; p < 65536; p++ {
		if own[p] != (owner(p) == "tm1") {
			t.Fatalf("port %d listed=%v, owner %s", p, own[p], owner(p))
		}
	}
	out, err = runCmd(t, "ports", "--controller", srv.URL, "--tm", "tm1", "--snat", "10.3.0.1", "--format", "sysctl")
	if err != nil {
		t.Fatal(err)
	}
	reserved := parseRanges(t, out)
	for p := 32768; p <= 60999; p++ {
		if reserved[p] == (owner(p) == "tm1") {
			t.Fatalf("sysctl: port %d reserved=%v though its owner is %s", p, reserved[p], owner(p))
		}
	}
	out, err = runCmd(t, "ports", "--controller", srv.URL, "--tm", "tm2", "--snat", "10.3.0.1", "--format", "list", "--min-port", "65000")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Fields(out) {
		p, _ := strconv.Atoi(line)
		if p < 65000 || owner(p) != "tm2" {
			t.Fatalf("list gave port %d (owner %s)", p, owner(p))
		}
	}
}

func TestPortsErrors(t *testing.T) {
	srv, _ := fakeController(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--tm", "tm9", "--snat", "10.3.0.1"}, `no TM "tm9"`},
		{[]string{"--tm", "tm1", "--snat", "10.3.0"}, "--snat"},
		{[]string{"--tm", "tm1", "--snat", "10.3.0.1", "--format", "xml"}, "--format"},
		{[]string{"--snat", "10.3.0.1"}, "needs --tm"},
	}
	for _, tt := range tests {
		_, err := runCmd(t, append([]string{"ports", "--controller", srv.URL}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ports %v: error %v, want %q", tt.args, err, tt.want)
		}
	}
}

func TestStatus(t *testing.T) {
	srv, _ := fakeController(t)
	out, err := runCmd(t, "status", "--controller", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SWITCH", "group web", "tm1", "tm2"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	if _, err := runCmd(t, "status", "--controller", srv.URL+"/nope"); err == nil {
		t.Error("status against a wrong URL succeeded")
	}
}

// ports --watch --format sysctl rewrites the file on every table before it
// acknowledges it: at each ack the file holds exactly the ports of the
// range that are not the TM's in that table.
func TestPortsWatchWritesBeforeAck(t *testing.T) {
	f := adminapitest.NewWatch(t, "tm1")
	path := filepath.Join(t.TempDir(), "ip_local_reserved_ports")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	snat := netip.MustParseAddr("10.3.0.1")
	const lo, hi = 32768, 60999
	want := func(buckets []string) string {
		tab, err := ports.Compute(buckets, "tm1", snat, 1024)
		if err != nil {
			t.Fatal(err)
		}
		return ports.Ranges(tab.ReservedPorts(lo, hi))
	}
	atAck := make(chan string, 4)
	f.OnAck(func(uint64) {
		b, _ := os.ReadFile(path)
		atAck <- strings.TrimSpace(string(b))
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		cmd := newRootCmd()
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs([]string{"ports", "--watch", "--controller", f.URL, "--tm", "tm1", "--snat", snat.String(),
			"--format", "sysctl", "--range-lo", strconv.Itoa(lo), "--range-hi", strconv.Itoa(hi), "--path", path})
		done <- cmd.ExecuteContext(ctx)
	}()
	half := make([]string, 4096)
	for i := range half {
		half[i] = []string{"tm1", "tm2"}[i%2]
	}
	loss := slices.Clone(half)
	for i := 0; i < len(loss); i += 4 {
		loss[i] = ""
	}
	for v, tab := range [][]string{half, loss, half} {
		f.Push(uint64(v+1), adminapi.KindGain, tab)
		f.WaitAck(t, uint64(v+1))
		got := <-atAck
		if got != want(tab) {
			t.Fatalf("version %d: at the ack the file holds %d bytes, want the %d of the table's reserved ports", v+1, len(got), len(want(tab)))
		}
	}
	if own := parseRanges(t, want(half)); len(own) < 10000 || len(own) > 18000 {
		t.Fatalf("half the range reserved: %d ports, want about 14116", len(own))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A file that cannot be written leaves the table unacknowledged: the
// controller then writes the switches only after its handover timeout.
func TestPortsWatchNoAckWhenTheWriteFails(t *testing.T) {
	f := adminapitest.NewWatch(t, "tm1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := &bytes.Buffer{}
	go func() {
		cmd := newRootCmd()
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(errs)
		cmd.SetArgs([]string{"ports", "--watch", "--controller", f.URL, "--tm", "tm1", "--snat", "10.3.0.1",
			"--format", "sysctl", "--path", filepath.Join(t.TempDir(), "missing", "file")})
		cmd.ExecuteContext(ctx)
	}()
	f.Push(1, adminapi.KindInitial, make([]string, 4096))
	select {
	case v := <-f.Acks():
		t.Fatalf("version %d acknowledged though the file could not be written", v)
	case <-time.After(500 * time.Millisecond):
	}
}

func TestPortsWatchNeedsSysctl(t *testing.T) {
	_, err := runCmd(t, "ports", "--watch", "--tm", "tm1", "--snat", "10.3.0.1", "--format", "ranges")
	if err == nil || !strings.Contains(err.Error(), "--watch writes --format sysctl only") {
		t.Errorf("got %v", err)
	}
}
