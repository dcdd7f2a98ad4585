// SPDX-License-Identifier: Apache-2.0

package desired

import (
	"fmt"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/assign"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/entries"
)

// Expected is every entity switch swName of cfg must hold, canonical, in
// no particular order: what the controller writes when the groups' bucket
// tables are buckets (owner TM name per bucket; a group missing from it
// gets no bucket entries) and the TMs in up take traffic. `symdist verify`
// holds switches against it.
func Expected(cfg *config.Config, swName string, buckets map[string][]string, up map[string]bool) ([]*p4v1.Entity, error) {
	_, ids, err := LoadPipeline()
	if err != nil {
		return nil, err
	}
	for i := range cfg.Switches {
		if cfg.Switches[i].Name == swName {
			return Entities(cfg, entries.Builder{IDs: ids}, &cfg.Switches[i], View{Buckets: buckets, Up: up}), nil
		}
	}
	return nil, fmt.Errorf("the config has no switch %q", swName)
}

// FreshBuckets is the bucket table per group that a controller starting
// with the TMs in up computes.
func FreshBuckets(cfg *config.Config, up map[string]bool) (map[string][]string, error) {
	out := map[string][]string{}
	for _, g := range cfg.Groups {
		var tms []assign.TM
		for _, tm := range cfg.TMsOf(g.Name) {
			tms = append(tms, assign.TM{Name: tm.Name, Weight: tm.Weight, Up: up[tm.Name]})
		}
		t, err := assign.New(g.Buckets, tms)
		if err != nil {
			return nil, fmt.Errorf("group %s: %w", g.Name, err)
		}
		out[g.Name] = t.Buckets
	}
	return out, nil
}
