// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Issue 11 item 5: without a token (the loopback default) a web page could
// drain a TM (CSRF: a "simple" cross-site POST) or read and change
// everything through DNS rebinding (any Host was accepted).
func TestAdminGuard(t *testing.T) {
	type request struct {
		method, path, host, body string
		header                   map[string]string
	}
	drain := func(h map[string]string, body string) request {
		return request{method: "POST", path: "/api/tms/tm1/drain", body: body, header: h}
	}
	tests := []struct {
		name   string
		listen string // admin.listen; "" = the example's loopback address
		req    request
		want   int
	}{
		{"the issue's CSRF: cross-site text/plain POST", "", drain(map[string]string{"Origin": "http://evil.example", "Content-Type": "text/plain"}, "x"), 403},
		{"cross-site form POST", "", drain(map[string]string{"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"}, "a=b"), 403},
		{"cross-site POST even as JSON", "", drain(map[string]string{"Origin": "http://evil.example", "Content-Type": "application/json"}, ""), 403},
		{"opaque origin", "", drain(map[string]string{"Origin": "null", "Content-Type": "application/json"}, ""), 403},
		{"Sec-Fetch-Site cross-site", "", drain(map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, ""), 403},
		{"Sec-Fetch-Site same-site", "", drain(map[string]string{"Sec-Fetch-Site": "same-site", "Content-Type": "application/json"}, ""), 403},
		{"text/plain body without Origin", "", drain(map[string]string{"Content-Type": "text/plain"}, "x"), 415},
		{"no Content-Type, no marker", "", drain(nil, ""), 403},
		{"JSON", "", drain(map[string]string{"Content-Type": "application/json; charset=utf-8"}, ""), 200},
		{"JSON body", "", drain(map[string]string{"Content-Type": "application/json"}, "{}"), 200},
		{"empty body with the marker header", "", drain(map[string]string{AdminRequestHeader: "1"}, ""), 200},
		{"empty body with Authorization (curl with a token)", "", drain(map[string]string{"Authorization": "Bearer x"}, ""), 200},
		{"Sec-Fetch-Site none (typed by the user)", "", drain(map[string]string{"Sec-Fetch-Site": "none", "Content-Type": "application/json"}, ""), 200},
		{"rebinding: a GET with another site's Host", "", request{method: "GET", path: "/api/status", host: "evil.example:9090"}, 403},
		{"rebinding: a JSON POST with another site's Host", "", request{method: "POST", path: "/api/tms/tm1/drain", host: "evil.example", header: map[string]string{"Content-Type": "application/json"}}, 403},
		{"Host localhost", "", request{method: "GET", path: "/api/status", host: "localhost:9090"}, 200},
		{"Host LOCALHOST.", "", request{method: "GET", path: "/api/status", host: "LOCALHOST.:9090"}, 200},
		{"Host ::1", "", request{method: "GET", path: "/api/status", host: "[::1]:9090"}, 200},
		{"Host a configured name", "", request{method: "GET", path: "/metrics", host: "ctl.example.net:9090"}, 200},
		{"Host another address while on loopback", "", request{method: "GET", path: "/api/status", host: "10.1.2.3:9090"}, 403},
		{"Host the address listened on", "10.1.2.3:9090", request{method: "GET", path: "/api/status", host: "10.1.2.3:9090"}, 200},
		{"Host any address while on all", "0.0.0.0:9090", request{method: "GET", path: "/api/status", host: "192.0.2.7:9090"}, 200},
		{"Host a name while on all", "0.0.0.0:9090", request{method: "GET", path: "/api/status", host: "evil.example:9090"}, 403},
		{"same-origin Origin", "", request{method: "POST", path: "/api/tms/tm1/drain", host: "localhost:9090",
			header: map[string]string{"Origin": "http://localhost:9090", "Content-Type": "application/json"}}, 200},
		// Issue 22: the web page and its event stream.
		{"page", "", request{method: "GET", path: "/"}, 200},
		{"page's script", "", request{method: "GET", path: "/ui/app.js", host: "localhost:9090"}, 200},
		{"rebinding: the page with another site's Host", "", request{method: "GET", path: "/", host: "evil.example:9090"}, 403},
		{"rebinding: the page's stream with another site's Host", "", request{method: "GET", path: "/ui/events", host: "evil.example:9090"}, 403},
		{"rebinding: the page's script with another site's Host", "", request{method: "GET", path: "/ui/app.js", host: "evil.example"}, 403},
		{"the page changes nothing: a cross-site POST to it", "", request{method: "POST", path: "/", header: map[string]string{"Origin": "http://evil.example", "Content-Type": "application/json"}}, 403},
		{"the page changes nothing: a JSON POST to it", "", request{method: "POST", path: "/", header: map[string]string{"Content-Type": "application/json"}}, 405},
		{"the page changes nothing: a POST to its stream", "", request{method: "POST", path: "/ui/events", header: map[string]string{"Content-Type": "application/json"}}, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Admin.Hosts = []string{"ctl.example.net"}
			if tt.listen != "" {
				cfg.Admin.Listen = tt.listen
			}
			c, err := New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(tt.req.method, "http://127.0.0.1:9090"+tt.req.path, strings.NewReader(tt.req.body))
			if tt.req.body == "" {
				req.ContentLength = 0
			}
			if tt.req.host != "" {
				req.Host = tt.req.host
			}
			for k, v := range tt.req.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			c.Handler("").ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("HTTP %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			drained := c.Status().Groups[0].TMs[0].Drained
			if wantDrained := tt.want == 200 && tt.req.method == "POST" && strings.HasSuffix(tt.req.path, "/drain"); drained != wantDrained {
				t.Errorf("tm1 drained = %v, want %v", drained, wantDrained)
			}
		})
	}
}

// With a token the guard still applies: the token alone does not make a
// foreign Host acceptable.
func TestAdminGuardWithToken(t *testing.T) {
	c, err := New(testConfig(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "http://evil.example/api/status", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	rec := httptest.NewRecorder()
	c.Handler("s3cret").ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("HTTP %d, want 403", rec.Code)
	}
}

// Issue 22: with a token, the page's assets (no data) load without it, so
// that the page can ask for it; its event stream and everything else need
// it; the guard holds for all of them.
func TestPageToken(t *testing.T) {
	c, err := New(testConfig(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler("s3cret"))
	defer srv.Close()
	tests := []struct {
		name, method, path, host, token string
		want                            int
		wantType                        string
	}{
		{"page without the token", "GET", "/", "", "", 200, "text/html; charset=utf-8"},
		{"script without the token", "GET", "/ui/app.js", "", "", 200, "text/javascript; charset=utf-8"},
		{"style without the token", "HEAD", "/ui/app.css", "", "", 200, "text/css; charset=utf-8"},
		{"stream without the token", "GET", "/ui/events", "", "", 401, ""},
		{"stream with a wrong token", "GET", "/ui/events", "", "Bearer nope", 401, ""},
		{"stream with the token", "GET", "/ui/events", "", "Bearer s3cret", 200, "text/event-stream"},
		{"status without the token", "GET", "/api/status", "", "", 401, ""},
		{"no other path without the token", "GET", "/ui/other.js", "", "", 401, ""},
		{"page with another site's Host", "GET", "/", "evil.example", "", 403, ""},
		{"stream with another site's Host", "GET", "/ui/events", "evil.example", "Bearer s3cret", 403, ""},
		{"a POST to the page", "POST", "/", "", "Bearer s3cret", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, tt.method, srv.URL+tt.path, nil)
			if tt.host != "" {
				req.Host = tt.host
			}
			if tt.token != "" {
				req.Header.Set("Authorization", tt.token)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("HTTP %d, want %d", resp.StatusCode, tt.want)
			}
			if ct := resp.Header.Get("Content-Type"); tt.wantType != "" && ct != tt.wantType {
				t.Errorf("Content-Type %q, want %q", ct, tt.wantType)
			}
			if tt.want == 200 && tt.path == "/" && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
				t.Errorf("page without a same-origin Content-Security-Policy: %q", resp.Header.Get("Content-Security-Policy"))
			}
		})
	}
}
