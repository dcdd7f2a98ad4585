// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"fmt"
	"testing"

	"github.com/symdist/symdist/config"
	"gopkg.in/yaml.v3"
)

// Grid is a synthetic deployment for benchmarks and load tests: Groups
// groups, one per VLAN (group g matches VLAN g), each with TMsPerGroup TMs
// named t<g>-<k>, spread over TMPorts TM ports (ports 2..TMPorts+1; port 1
// is the edge) of every switch.
type Grid struct {
	// Switches are the P4Runtime addresses; switch i is named SwitchNames[i],
	// or sw<i> ("sw" when there is one).
	Switches    []string
	SwitchNames []string
	TMPorts     int
	Groups      int
	TMsPerGroup int
	Buckets     int    // per group; 0: the config's default
	Target      string // every switch's target (config: switches[].target); "": the default
}

func (g Grid) switchName(i int) string {
	switch {
	case i < len(g.SwitchNames):
		return g.SwitchNames[i]
	case len(g.Switches) == 1:
		return "sw"
	}
	return fmt.Sprintf("sw%d", i)
}

// YAML is the grid as a config file: built as a config.Config and written
// by the YAML library, so what the tests parse is what a user would write.
func (g Grid) YAML() ([]byte, error) {
	c := config.Config{Buckets: g.Buckets, Admin: config.Admin{Listen: "127.0.0.1:0"}}
	for i, addr := range g.Switches {
		sw := config.Switch{Name: g.switchName(i), Address: addr, DeviceID: uint64(i + 1), Target: g.Target,
			Ports: []config.Port{{Port: 1, Role: "edge"}}}
		for p := 2; p <= g.TMPorts+1; p++ {
			sw.Ports = append(sw.Ports, config.Port{Port: uint16(p), Role: "tm"})
		}
		c.Switches = append(c.Switches, sw)
	}
	id := 0
	for gi := 1; gi <= g.Groups; gi++ {
		c.Groups = append(c.Groups, config.Group{Name: fmt.Sprintf("g%d", gi), ID: uint16(gi),
			DefaultTM: fmt.Sprintf("t%d-1", gi), Rules: []config.Rule{{Priority: 10, VLAN: uint16(gi)}}})
		for k := 1; k <= g.TMsPerGroup; k++ {
			id++
			tm := config.TM{Name: fmt.Sprintf("t%d-%d", gi, k), ID: uint16(id), Group: fmt.Sprintf("g%d", gi),
				Weight: 1, Ports: map[string]config.TMPort{}}
			for i := range g.Switches {
				tm.Ports[g.switchName(i)] = config.TMPort{Port: uint16(2 + (id-1)%g.TMPorts),
					MAC: fmt.Sprintf("02:00:%02x:00:%02x:%02x", i, id>>8, id&0xff)}
			}
			c.TMs = append(c.TMs, tm)
		}
	}
	return yaml.Marshal(&c)
}

// Parse is the grid parsed as symdist parses a config file.
func (g Grid) Parse() (*config.Config, error) {
	text, err := g.YAML()
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse("grid.yaml", text)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, text)
	}
	return cfg, nil
}

// Config is Parse for tests: an error fails t.
func (g Grid) Config(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := g.Parse()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
