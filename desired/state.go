// SPDX-License-Identifier: Apache-2.0

// Package desired says what each switch of a deployment must hold: a pure
// function of the config, each group's bucket table and which TMs are up
// (a View). Entities and State build it: port roles, the flood group, one
// action-profile member per TM (kept while the TM is down, so its return is
// only bucket writes), L2 entries (the config's and the TMs' MACs), the
// TMs' own addresses, classification rules and their mirror images, bucket
// masks, default TMs and bucket entries.
//
// The controller writes it; `symdist verify` holds switches against it
// (Expected, FreshBuckets) without linking the controller; `symdist
// decide` runs packets against AllUp. BucketOwners keeps bucket_table as
// one member id per bucket, four bytes where a P4Runtime entity costs
// several hundred, and OwnersCache lets a sync rebuild only the groups
// whose table changed. The operator's intent (drains) is kept in the
// switches themselves, as metadata of each TM's l2_forward entry
// (IntentRecord), so whichever controller adopts the switches reads it
// back.
package desired

import (
	"fmt"
	"net/netip"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/assign"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
)

var roleValues = map[string]uint8{"edge": 1, "tm": 2, "peer": 3}

// View is what the desired state depends on besides the config: each
// group's bucket table (owner TM name per bucket), which TMs are up, and
// the operator's intent the switches keep for the next controller.
type View struct {
	Buckets map[string][]string // group name -> owner per bucket
	Up      map[string]bool     // TM name -> up (healthy and not drained)
	Drained map[string]bool     // TM name -> drained by the operator (intent.go)
}

// DefaultTM is the group's configured default TM while it is up, else its
// first TM (in config order) that is up, else the configured one.
func DefaultTM(cfg *config.Config, g *config.Group, v View) *config.TM {
	if v.Up[g.DefaultTM] {
		return cfg.TM(g.DefaultTM)
	}
	for _, tm := range cfg.TMsOf(g.Name) {
		if v.Up[tm.Name] {
			return tm
		}
	}
	return cfg.TM(g.DefaultTM)
}

func tmOn(tm *config.TM, sw string) (entries.TM, bool) {
	p, ok := tm.Ports[sw]
	if !ok {
		return entries.TM{}, false
	}
	return entries.TM{ID: tm.ID, Port: p.Port, MAC: config.ParseMAC(p.MAC)}, true
}

// Entities returns every entity switch sw must hold, canonical.
func Entities(cfg *config.Config, b entries.Builder, sw *config.Switch, v View) []*p4v1.Entity {
	es, buckets := State(cfg, b, sw, v, nil)
	return append(es, buckets.Entities(b)...)
}

// State is what switch sw must hold: every entity but the bucket
// entries, canonical, and the bucket entries as owners (built again only
// for the groups whose table is not the one they were built from in
// cache, if there is one).
func State(cfg *config.Config, b entries.Builder, sw *config.Switch, v View, cache *OwnersCache) ([]*p4v1.Entity, BucketOwners) {
	var es []*p4v1.Entity
	buckets := BucketOwners{}
	flood := sw.FloodPorts
	for _, p := range sw.Ports {
		es = append(es, b.PortRole(p.Port, roleValues[p.Role]))
		if len(sw.FloodPorts) == 0 {
			flood = append(flood, p.Port)
		}
	}
	es = append(es, entries.MulticastGroup(1, flood))
	for _, e := range sw.L2 {
		es = append(es, b.L2Forward(config.ParseMAC(e.MAC), e.Port))
	}
	// One member per TM with a port here, whatever its health: a TM that
	// comes back only needs its buckets.
	for i := range cfg.TMs {
		tm := &cfg.TMs[i]
		t, ok := tmOn(tm, sw.Name)
		if !ok {
			continue
		}
		es = append(es, b.Member(uint32(tm.ID), t), WithIntent(b.L2Forward(t.MAC, t.Port), tm.Name, v.Drained[tm.Name]))
		for _, a := range tm.Addresses {
			es = append(es, b.TMAddress(netip.MustParseAddr(a), t))
		}
	}
	// The member of each bucket owner on this switch (0: no TM with a port
	// here), looked up once per TM, not once per bucket.
	members := map[string]uint32{}
	for i := range cfg.TMs {
		if _, ok := cfg.TMs[i].Ports[sw.Name]; ok {
			members[cfg.TMs[i].Name] = uint32(cfg.TMs[i].ID)
		}
	}
	for gi := range cfg.Groups {
		g := &cfg.Groups[gi]
		for _, r := range g.Rules {
			c := r.Classifier(g.ID)
			es = append(es, b.GroupClassifier(c))
			if c.Src != c.Dst {
				es = append(es, b.GroupClassifier(c.Mirror()))
			}
		}
		es = append(es, b.BucketMask(g.ID, g.Buckets))
		if d, ok := tmOn(DefaultTM(cfg, g, v), sw.Name); ok {
			es = append(es, b.DefaultTM(g.ID, d))
		}
		if owners := cache.groupOwners(cfg, g.ID, v.Buckets[g.Name], members); owners != nil {
			buckets[g.ID] = owners
		}
	}
	for _, e := range es {
		entries.Canonicalize(e)
	}
	return es, buckets
}

// AllUp is what a fresh controller would write to switch swName of
// cfg with every TM up: the state `symdist decide` runs packets against.
func AllUp(cfg *config.Config, swName string) ([]*p4v1.Update, error) {
	_, ids, err := LoadPipeline()
	if err != nil {
		return nil, err
	}
	var sw *config.Switch
	for i := range cfg.Switches {
		if cfg.Switches[i].Name == swName || swName == "" && i == 0 {
			sw = &cfg.Switches[i]
		}
	}
	if sw == nil {
		return nil, fmt.Errorf("the config has no switch %q", swName)
	}
	v := View{Buckets: map[string][]string{}, Up: map[string]bool{}}
	for _, g := range cfg.Groups {
		var tms []assign.TM
		for _, tm := range cfg.TMsOf(g.Name) {
			tms = append(tms, assign.TM{Name: tm.Name, Weight: tm.Weight, Up: true})
			v.Up[tm.Name] = true
		}
		t, err := assign.New(g.Buckets, tms)
		if err != nil {
			return nil, fmt.Errorf("group %s: %w", g.Name, err)
		}
		v.Buckets[g.Name] = t.Buckets
	}
	return entries.InsertsInOrder(Entities(cfg, entries.Builder{IDs: ids}, sw, v)), nil
}

// LoadPipeline loads the embedded P4Info and resolves every ID the
// controller uses.
func LoadPipeline() (*p4info.Schema, *p4info.IDs, error) {
	schema, err := p4info.Load()
	if err != nil {
		return nil, nil, err
	}
	ids, err := schema.Resolve()
	if err != nil {
		return nil, nil, err
	}
	return schema, ids, nil
}
