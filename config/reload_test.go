// SPDX-License-Identifier: Apache-2.0

package config

import (
	"os"
	"strings"
	"testing"
)

// Each case is the figure-3 example with one change, checked as the next
// config of a controller running the example: what a running controller
// can apply passes, what needs a restart is refused at its line.
func TestCheckReload(t *testing.T) {
	base, err := os.ReadFile("../examples/figure3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	running, err := Parse("figure3.yaml", base)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new string
		want           string // "" : accepted
	}{
		{"weight", "    weight: 2\n", "    weight: 5\n", ""},
		{"rule", "{priority: 10, ip_version: 4, dst: 10.0.0.100/32}", "{priority: 10, ip_version: 4, dst: 10.0.0.0/24}", ""},
		{"switch port role", "      - {port: 5, role: peer}\n  - name: server-side", "      - {port: 5, role: edge}\n  - name: server-side", ""},
		{"bucket count", "buckets: 4096", "buckets: 2048", "figure3.yaml:8: buckets: needs a controller restart (running: 4096, file: 2048); a new bucket count moves every flow"},
		{"group bucket count", "    id: 1\n", "    id: 1\n    buckets: 1024\n", "figure3.yaml:36: groups[0].buckets: needs a controller restart (running: 4096, file: 1024); a new bucket count moves every flow of group web"},
		{"election id", "election_id: 10", "election_id: 11", "figure3.yaml:9: election_id: needs a controller restart"},
		{"admin listen", "listen: 127.0.0.1:9090", "listen: 127.0.0.1:9091", "figure3.yaml:11: admin.listen: needs a controller restart"},
		{"switch address", "address: 127.0.0.1:9560", "address: 127.0.0.1:9561", "figure3.yaml:24: switches[1].address: needs a controller restart (running: 127.0.0.1:9560, file: 127.0.0.1:9561)"},
		{"device id", "    device_id: 2\n", "    device_id: 3\n", "figure3.yaml:25: switches[1].device_id: needs a controller restart"},
		{"switch tls", "    device_id: 2\n", "    device_id: 2\n    tls: {ca: ca.pem}\n", "figure3.yaml:26: switches[1].tls: needs a controller restart (running: plaintext"},
		{"switch target", "    device_id: 2\n", "    device_id: 2\n    target: software\n", "figure3.yaml:26: switches[1].target: needs a controller restart (running: , file: software)"},
		{"switch renamed", "client-side", "client-edge", "switches[0].name: adding switch \"client-edge\" needs a controller restart"},
		{"check still runs", "    weight: 2\n", "    weight: 2000\n", "tms[2].weight: must be 1-1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.Replace(string(base), tt.old, tt.new, 1)
			if text == string(base) {
				t.Fatalf("example lacks %q", tt.old)
			}
			if tt.name == "switch renamed" {
				text = strings.ReplaceAll(string(base), tt.old, tt.new)
			}
			next, err := CheckReload(running, "figure3.yaml", []byte(text))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want == "" && next == nil:
				t.Fatal("no config")
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
