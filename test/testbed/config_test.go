// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"testing"
)

func TestGrid(t *testing.T) {
	tests := []struct {
		name    string
		grid    Grid
		buckets int
	}{
		{"two switches", Grid{Switches: []string{"127.0.0.1:1", "127.0.0.1:2"}, TMPorts: 16, Groups: 4, TMsPerGroup: 4}, 4096},
		{"large", Grid{Switches: []string{"127.0.0.1:1"}, TMPorts: 4, Groups: 16, TMsPerGroup: 8, Buckets: 65536}, 65536},
		{"named", Grid{Switches: []string{"127.0.0.1:1"}, SwitchNames: []string{"edge"}, TMPorts: 1, Groups: 1, TMsPerGroup: 3}, 4096},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.grid.Config(t)
			if got, want := len(cfg.TMs), tt.grid.Groups*tt.grid.TMsPerGroup; got != want {
				t.Errorf("%d TMs, want %d", got, want)
			}
			if len(cfg.Switches) != len(tt.grid.Switches) || len(cfg.Groups) != tt.grid.Groups {
				t.Errorf("%d switches and %d groups", len(cfg.Switches), len(cfg.Groups))
			}
			for _, g := range cfg.Groups {
				if g.Buckets != tt.buckets {
					t.Errorf("group %s: %d buckets, want %d", g.Name, g.Buckets, tt.buckets)
				}
				if n := len(cfg.TMsOf(g.Name)); n != tt.grid.TMsPerGroup {
					t.Errorf("group %s: %d TMs", g.Name, n)
				}
			}
			for _, sw := range cfg.Switches {
				if len(sw.Ports) != tt.grid.TMPorts+1 {
					t.Errorf("switch %s: %d ports, want %d", sw.Name, len(sw.Ports), tt.grid.TMPorts+1)
				}
			}
		})
	}
}
