// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"fmt"
	"testing"

	"github.com/symdist/symdist/assign"
)

// BenchmarkSimulate is a whole run: 1M flows over N TMs, a failure and a
// recovery, all five schemes, no sweep. It reports the flows simulated per
// second (each through the three steps, flow generation included).
func BenchmarkSimulate(b *testing.B) {
	for _, n := range []int{16, 256} {
		b.Run(fmt.Sprintf("tms=%d", n), func(b *testing.B) {
			const flows = 1000000
			cfg := Config{Flows: flows, TMs: n, Groups: 1, Buckets: 4096, Seed: 1,
				Events: []Event{{Kind: Fail, TM: "tm3"}, {Kind: Recover, TM: "tm3"}}}
			for b.Loop() {
				if _, err := Simulate(cfg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(flows)*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
		})
	}
}

// BenchmarkGenerateHashes is the flows: random keys, CRC-32 of the key
// bytes.
func BenchmarkGenerateHashes(b *testing.B) {
	const flows = 1 << 20
	for b.Loop() {
		GenerateHashes(1, flows, 0.1, 0, nil)
	}
	b.ReportMetric(float64(flows)*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}

// BenchmarkLookup is the cost of mapping one flow hash to a TM, per scheme.
func BenchmarkLookup(b *testing.B) {
	hs := GenerateHashes(1, 1<<16, 0, 0, nil)
	for _, n := range []int{16, 1000} {
		ns := nodes(n, nil)
		tms := make([]assign.TM, n)
		for i, nd := range ns {
			tms[i] = assign.TM{Name: nd.Name, Weight: 1, Up: true}
		}
		tab, err := assign.New(4096, tms)
		if err != nil {
			b.Fatal(err)
		}
		sym := make([]int32, len(tab.Buckets))
		for i, name := range tab.Buckets {
			sym[i] = int32(tmNumber(name) - 1)
		}
		symLut := newLut(sym)
		modn := ModN{Up: make([]int32, n)}
		for i := range modn.Up {
			modn.Up[i] = int32(i)
		}
		sel := NewSelector()
		for _, nd := range ns {
			sel.CreateMember(nd.ID, 0)
			sel.SetWeight(nd.ID, 1)
		}
		selLut := newLut(sel.Lookup(0))
		mag, err := NewMaglev(DefaultMaglevSize, ns)
		if err != nil {
			b.Fatal(err)
		}
		rv := NewRendezvous(ns)
		lookups := []struct {
			name string
			f    func(uint32) int32
		}{
			{"symdist", symLut.at},
			{"mod-n", modn.Lookup},
			{"bmv2-selector", selLut.at},
			{"maglev", mag.Lookup},
			{"rendezvous", rv.Lookup},
		}
		for _, l := range lookups {
			b.Run(fmt.Sprintf("%s/tms=%d", l.name, n), func(b *testing.B) {
				var sink int32
				i := 0
				for b.Loop() {
					sink += l.f(hs[i&(len(hs)-1)])
					i++
				}
				benchSink = sink
			})
		}
	}
}

var benchSink int32
