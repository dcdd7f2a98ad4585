package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/symdist/symdist/assign"
	"github.com/symdist/symdist/contract"
	"github.com/symdist/symdist/controller"
)

// fakeController serves the two admin API calls `symdist ports` makes.
func fakeController(t *testing.T) (*httptest.Server, []string) {
	at, err := assign.New(4096, []assign.TM{{Name: "tm1", Weight: 1, Up: true}, {Name: "tm2", Weight: 1, Up: true}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/status", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(controller.Status{Groups: []controller.GroupStatus{{Name: "web", TMs: []controller.TMStatus{{Name: "tm1"}, {Name: "tm2"}}}}})
	})
	mux.HandleFunc("/api/groups/web/buckets", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(controller.BucketTable{Group: "web", Buckets: at.Buckets})
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
