// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
			if wantDrained := tt.want == 200 && tt.req.method == "POST"; drained != wantDrained {
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
