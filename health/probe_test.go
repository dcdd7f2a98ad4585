// SPDX-License-Identifier: Apache-2.0

package health

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/symdist/symdist/config"
)

func TestProbe(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer bad.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(300 * time.Millisecond) }))
	defer slow.Close()
	var loopHits, elsewhereHits atomic.Int32
	var loop *httptest.Server
	loop = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loopHits.Add(1)
		http.Redirect(w, r, loop.URL+r.URL.Path, http.StatusFound)
	}))
	defer loop.Close()
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhereHits.Add(1) }))
	defer elsewhere.Close()
	away := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/anything", http.StatusMovedPermanently))
	defer away.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name    string
		h       config.Health
		pass    bool
		wantErr string
	}{
		{"http redirect to itself", config.Health{Type: "http", Target: loop.URL + "/healthz", Timeout: time.Second}, false,
			"HTTP 302 redirect to \"" + loop.URL + "/healthz\": health checks follow no redirects"},
		{"http redirect elsewhere", config.Health{Type: "http", Target: away.URL, Timeout: time.Second}, false,
			"HTTP 301 redirect to \"" + elsewhere.URL + "/anything\""},
		{"http 200", config.Health{Type: "http", Target: ok.URL, Timeout: time.Second}, true, ""},
		{"http 503", config.Health{Type: "http", Target: bad.URL, Timeout: time.Second}, false, ""},
		{"http too slow", config.Health{Type: "http", Target: slow.URL, Timeout: 50 * time.Millisecond}, false, ""},
		{"tcp open", config.Health{Type: "tcp", Target: ok.Listener.Addr().String(), Timeout: time.Second}, true, ""},
		{"tcp closed", config.Health{Type: "tcp", Target: closed, Timeout: time.Second}, false, ""},
		{"none", config.Health{Type: "none"}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Probe(context.Background(), tt.h)
			if (err == nil) != tt.pass {
				t.Errorf("Probe = %v, want pass=%v", err, tt.pass)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Probe = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	if n, m := loopHits.Load(), elsewhereHits.Load(); n != 1 || m != 0 {
		t.Errorf("the redirect loop got %d requests (want 1), the redirect's target %d (want 0)", n, m)
	}
}

// An HTTP_PROXY in the environment does not carry health checks: the
// proxy never sees the probe. The probe runs in a child process because net/http
// reads the proxy variables once per process.
func TestProbeIgnoresHTTPProxy(t *testing.T) {
	if os.Getenv("SYMDIST_HEALTH_PROXY_CHILD") == "1" {
		h := config.Health{Type: "http", Target: "http://tm1.invalid/health", Timeout: 2 * time.Second}
		err := Probe(context.Background(), h)
		fmt.Printf("probed: %v\n", err) // the parent counts what the proxy saw
		return
	}
	var seen atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen.Add(1) }))
	defer proxy.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestProbeIgnoresHTTPProxy$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SYMDIST_HEALTH_PROXY_CHILD=1",
		"HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "NO_PROXY=", "no_proxy=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "probed: ") {
		t.Errorf("probe with HTTP_PROXY set: %v\n%s", err, out)
	}
	if n := seen.Load(); n != 0 {
		t.Errorf("the proxy got %d requests", n)
	}
}
