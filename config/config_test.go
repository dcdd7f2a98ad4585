// SPDX-License-Identifier: Apache-2.0

package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestExamplesParse(t *testing.T) {
	for _, path := range []string{"../examples/figure3.yaml"} {
		t.Run(path, func(t *testing.T) {
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Switches) != 2 || len(c.TMs) != 3 || c.Buckets != 4096 {
				t.Errorf("parsed %d switches, %d TMs, %d buckets", len(c.Switches), len(c.TMs), c.Buckets)
			}
		})
	}
}

// Each bad config is the figure-3 example with one line changed; the error
// must name the file, the line, the field and the problem.
func TestBadConfigs(t *testing.T) {
	base, err := os.ReadFile("../examples/figure3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new string
		want           string
	}{
		{"bad weight", "    weight: 2\n", "    weight: -1\n", "tms[2].weight: must be 1-1000"},
		{"unknown field", "    weight: 2\n", "    wieght: 2\n", "field wieght not found"},
		{"bad buckets", "buckets: 4096", "buckets: 1000", "figure3.yaml:8: buckets: must be a power of two"},
		{"bad role", "{port: 5, role: peer}\n  - name: server-side", "{port: 5, role: router}\n  - name: server-side", "switches[0].ports[4].role: role \"router\""},
		{"tm port not tm", "client-side: {port: 2, mac:", "client-side: {port: 1, mac:", "has role \"edge\", want tm"},
		{"bad mac", `"02:00:00:00:01:01"`, `"02:00:00:00:01"`, "not a MAC address"},
		{"unknown group", "    group: web\n    weight: 2", "    group: db\n    weight: 2", "tms[2].group: no group \"db\""},
		{"default tm elsewhere", "default_tm: tm1", "default_tm: tm9", "groups[0].default_tm"},
		{"bad prefix", "dst: 10.0.0.100/32", "dst: 10.0.0.300/32", "groups[0].rules[0].dst: not a prefix"},
		{"version mismatch", "ip_version: 4, dst: 10.0.0.100/32", "ip_version: 6, dst: 10.0.0.100/32", "is not IPv6"},
		{"health type", "{type: tcp, target: \"10.0.1.1:8081\"", "{type: icmp, target: \"10.0.1.1:8081\"", "tms[0].health.type"},
		{"timeout above interval", "interval: 1s, timeout: 500ms, rise: 2, fall: 3}\n  - name: tm2", "interval: 1s, timeout: 2s, rise: 2, fall: 3}\n  - name: tm2", "tms[0].health.timeout"},
		{"duplicate tm id", "    id: 2\n    group: web", "    id: 1\n    group: web", "duplicate TM id 1"},
		{"admin off loopback", "listen: 127.0.0.1:9090", "listen: 0.0.0.0:9090", "admin.token: required"},
		{"not yaml", "buckets: 4096", "buckets: [4096", "figure3.yaml"},
		{"unknown target", "    device_id: 1\n", "    device_id: 1\n    target: tofino\n", "switches[0].target: unknown target \"tofino\""},
		{"hardware target without a compiled pipeline", "    device_id: 1\n", "    device_id: 1\n    target: stratum\n", "switches[0].tofino: target stratum needs the Tofino build of the pipeline"},
		{"hardware target, compiler output missing", "    device_id: 1\n", "    device_id: 1\n    target: bf_switchd\n    tofino: {conf: /nonexistent/symdist.conf}\n", "switches[0].tofino.conf: no compiled pipeline"},
		{"tofino output for bmv2", "    device_id: 1\n", "    device_id: 1\n    tofino: {conf: x.conf}\n", "switches[0].tofino: only for the stratum and bf_switchd targets"},
		{"negative handover timeout", "buckets: 4096", "buckets: 4096\nhandover_timeout: -1s", "figure3.yaml:9: handover_timeout: must be from 0"},
		{"tm name over 64 bytes", "  - name: tm1\n", "  - name: " + strings.Repeat("t", 65) + "\n", "tms[0].name: name of 65 bytes (at most 64)"},
		{"group name JSON escapes", "  - name: web\n", "  - name: \"<web>\"\n", "groups[0].name: name \"<web>\" holds one of"},
		{"switch name with a control character", "  - name: client-side\n", "  - name: \"client\\tside\"\n", "switches[0].name: name \"client\\tside\" holds a control character"},
		{"handover timeout not a duration", "buckets: 4096", "buckets: 4096\nhandover_timeout: soon", "figure3.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(base), tt.old) {
				t.Fatalf("example lacks %q", tt.old)
			}
			text := strings.Replace(string(base), tt.old, tt.new, 1)
			_, err := Parse("figure3.yaml", []byte(text))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "figure3.yaml:") {
				t.Errorf("error %q does not contain %q and the file name", err, tt.want)
			}
		})
	}
}

// The error points at the line of the field.
func TestErrorLine(t *testing.T) {
	text := "switches:\n  - name: a\n    address: 127.0.0.1:1\n    ports:\n      - {port: 1, role: sideways}\n"
	_, err := Parse("c.yaml", []byte(text))
	if err == nil || !strings.Contains(err.Error(), "c.yaml:5: switches[0].ports[0].role") {
		t.Errorf("error = %v, want it at c.yaml:5", err)
	}
}

// handover_timeout defaults to 1s; 0s turns the wait off.
func TestHandoverTimeout(t *testing.T) {
	base, err := os.ReadFile("../examples/figure3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line string
		want time.Duration
	}{{"", time.Second}, {"handover_timeout: 0s\n", 0}, {"handover_timeout: 250ms\n", 250 * time.Millisecond}} {
		c, err := Parse("figure3.yaml", append([]byte(tc.line), base...))
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		if got := c.Handover(); got != tc.want {
			t.Errorf("%q: handover timeout %v, want %v", tc.line, got, tc.want)
		}
	}
}

func TestChainWindow(t *testing.T) {
	base, err := os.ReadFile("../examples/figure3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line    string
		want    time.Duration
		wantErr string
	}{
		{"", DefaultChainWindow, ""},
		{"chain_window: 0s\n", 0, ""},
		{"chain_window: 90s\n", 90 * time.Second, ""},
		{"chain_window: -1s\n", 0, "chain_window: must be from 0 (no chaining) to 24h0m0s, got -1s"},
		{"chain_window: 25h\n", 0, "chain_window: must be from 0"},
	} {
		c, err := Parse("figure3.yaml", append([]byte(tc.line), base...))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.line, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		if got := c.Chain(); got != tc.want {
			t.Errorf("%q: chain window %v, want %v", tc.line, got, tc.want)
		}
	}
}
