// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"fmt"
	"strings"
	"testing"

	"github.com/symdist/symdist/config"
)

// largePlanConfig is two switches, 16 groups of 65,536 buckets and 8 TMs
// each (2,097,152 bucket entries over the two), tm1-1's weight w.
func largePlanConfig(w int) string {
	var s strings.Builder
	s.WriteString("buckets: 65536\nswitches:\n")
	for i, sw := range []string{"a", "b"} {
		fmt.Fprintf(&s, "  - name: %s\n    address: 127.0.0.1:%d\n    ports: [{port: 1, role: edge}", sw, i+1)
		for p := 2; p < 2+128; p++ {
			fmt.Fprintf(&s, ", {port: %d, role: tm}", p)
		}
		s.WriteString("]\n")
	}
	s.WriteString("groups:\n")
	for g := 1; g <= 16; g++ {
		fmt.Fprintf(&s, "  - {name: g%d, id: %d, default_tm: t%d-1, rules: [{priority: 10, ip_version: 4, dst: 10.%d.0.0/16}]}\n", g, g, g, g)
	}
	s.WriteString("tms:\n")
	for g := 1; g <= 16; g++ {
		for i := 1; i <= 8; i++ {
			id := (g-1)*8 + i
			weight := 1
			if g == 1 && i == 1 {
				weight = w
			}
			fmt.Fprintf(&s, "  - {name: t%d-%d, id: %d, group: g%d, weight: %d, ports: {a: {port: %d, mac: \"02:00:00:01:00:%02x\"}, b: {port: %d, mac: \"02:00:00:02:00:%02x\"}}}\n",
				g, i, id, g, weight, id+1, id, id+1, id)
		}
	}
	return s.String()
}

// BenchmarkPlanConfigLarge: a config plan (with its entries per switch
// and table) at 16 x 65,536 buckets on two switches, one TM's weight
// changed.
//
//	go test ./controller -run '^$' -bench PlanConfigLarge -benchmem
func BenchmarkPlanConfigLarge(b *testing.B) {
	cfg, err := config.Parse("large.yaml", []byte(largePlanConfig(1)))
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.ensureTables(b.Context()); err != nil {
		b.Fatal(err)
	}
	next := []byte(largePlanConfig(2))
	b.ReportAllocs()
	for b.Loop() {
		p, err := c.PlanConfig("next.yaml", next)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Entries) != 2 || p.Entries[0].Modified == 0 {
			b.Fatalf("entries %+v, want bucket_table modified on a and b", p.Entries)
		}
	}
}
