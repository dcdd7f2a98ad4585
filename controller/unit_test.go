// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"net/http"
	"net/http/httptest"
	"testing"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
)

func builder(t *testing.T) entries.Builder {
	ids, err := p4info.MustLoad().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	return entries.Builder{IDs: ids}
}

func canon(es ...*p4v1.Entity) []*p4v1.Entity {
	for _, e := range es {
		entries.Canonicalize(e)
	}
	return es
}

// Moving buckets from one TM's member to a new one: the new member is
// written first, then the entries, and the old member is deleted last, each
// in its own phase (its own Write call).
func TestDiffMakeBeforeBreak(t *testing.T) {
	b := builder(t)
	tmA := entries.TM{ID: 1, Port: 2, MAC: []byte{2, 0, 0, 0, 0, 1}}
	tmB := entries.TM{ID: 2, Port: 3, MAC: []byte{2, 0, 0, 0, 0, 2}}
	current := canon(b.Member(1, tmA), b.Bucket(1, 0, 1), b.Bucket(1, 1, 1), b.PortRole(9, 1))
	want := canon(b.Member(2, tmB), b.Bucket(1, 0, 2), b.Bucket(1, 1, 1))
	p := diff(current, want)
	kinds := func(ph []*p4v1.Update) (out []string) {
		for _, u := range ph {
			out = append(out, u.GetType().String()+" "+entries.Key(u.GetEntity())[:1])
		}
		return out
	}
	wantPhases := [numPhases][]string{
		{"INSERT m"},
		{"MODIFY t"},
		{"DELETE t"}, // port_role of port 9
		{"DELETE m"},
	}
	for i := range wantPhases {
		got := kinds(p.phases[i])
		if len(got) != len(wantPhases[i]) || (len(got) > 0 && got[0] != wantPhases[i][0]) {
			t.Errorf("phase %d = %v, want %v", i+1, got, wantPhases[i])
		}
	}
	if d := diff(want, want); !d.empty() {
		t.Errorf("diff of a state with itself has %d updates", d.size())
	}
}

func TestAdminToken(t *testing.T) {
	cfg := testConfig(t)
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler("s3cret"))
	defer srv.Close()
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer wrong", 401}, {"Bearer s3cret", 200}} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/status", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("Authorization %q: HTTP %d, want %d", tc.auth, resp.StatusCode, tc.want)
		}
	}
	resp, _ := http.Get(srv.URL + "/metrics")
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("/metrics without token: HTTP %d", resp.StatusCode)
	}
}

func TestAdminAPI(t *testing.T) {
	c, err := New(testConfig(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler(""))
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/api/status", 200},
		{"GET", "/api/groups/web/buckets", 503}, // no switch reached yet
		{"GET", "/api/groups/nope/buckets", 404},
		{"POST", "/api/tms/tm1/drain", 200},
		{"POST", "/api/tms/tm9/drain", 404},
		{"POST", "/api/tms/tm1/undrain", 200},
		{"GET", "/metrics", 200},
		{"DELETE", "/api/status", 405},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		if tc.method != "GET" {
			req.Header.Set("Content-Type", "application/json") // adminguard.go
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: HTTP %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load("../examples/figure3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
