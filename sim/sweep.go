// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"fmt"
	"sync/atomic"

	"github.com/symdist/symdist/assign"
)

// Sweep is the imbalance of the initial state (tm1..tmN up, initial
// weights) as a function of the table size, on the same flows.
type Sweep struct {
	TMs    int          `json:"tms"`
	Points []SweepPoint `json:"points"`
	// The schemes without a table size, from step 0.
	ModN       float64 `json:"mod_n"`
	Bmv2       float64 `json:"bmv2_selector"`
	Rendezvous float64 `json:"rendezvous"`
}

// SweepPoint is one table size. The bounds are the imbalance of the table
// itself (a TM's entries over its fair share of entries): what the table
// gives with infinitely many flows; the hash's noise comes on top.
type SweepPoint struct {
	Buckets      int     `json:"buckets"`
	Symdist      float64 `json:"symdist"`
	SymdistBound float64 `json:"symdist_bound"`
	MaglevSize   int     `json:"maglev_size"` // the smallest prime >= max(B, TMs of a group)
	Maglev       float64 `json:"maglev"`
	MaglevBound  float64 `json:"maglev_bound"`
}

func (s *simulator) sweep(step0 *Step) (*Sweep, error) {
	G := s.cfg.Groups
	groups := make([][]Node, G)
	for k := 1; k <= s.cfg.TMs; k++ {
		name := TMName(k)
		g := GroupOf(k, G)
		groups[g] = append(groups[g], Node{ID: int32(k - 1), Name: name, Weight: s.cfg.weight(name)})
	}
	sw := &Sweep{TMs: s.cfg.TMs,
		ModN:       step0.Schemes[schModN].Imbalance,
		Bmv2:       step0.Schemes[schBmv2].Imbalance,
		Rendezvous: step0.Schemes[schRendezvous].Imbalance,
	}
	for _, b := range s.cfg.Sweep {
		p := SweepPoint{Buckets: b}
		counts := make([][]int64, 2)
		entries := make([][]int64, 2)
		for i := range counts {
			counts[i] = make([]int64, len(s.tms))
			entries[i] = make([]int64, s.cfg.TMs)
		}
		for g, nodes := range groups {
			tms := make([]assign.TM, len(nodes))
			for i, n := range nodes {
				tms[i] = assign.TM{Name: n.Name, Weight: n.Weight, Up: true}
			}
			t, err := assign.New(b, tms)
			if err != nil {
				return nil, err
			}
			sym := make([]int32, b)
			for i, name := range t.Buckets {
				sym[i] = s.byName[name]
				entries[0][sym[i]]++
			}
			p.MaglevSize = max(p.MaglevSize, NextPrime(max(b, len(nodes))))
			m, err := NewMaglev(NextPrime(max(b, len(nodes))), nodes)
			if err != nil {
				return nil, err
			}
			for _, id := range m.Entry {
				entries[1][id]++
			}
			c := s.count(fmt.Sprintf("sweep B=%d group %d/%d", b, g+1, G), g, []lut{newLut(sym), newLut(m.Entry)})
			for i := range c {
				for id, n := range c[i] {
					counts[i][id] += n
				}
			}
		}
		imb := func(c []int64, total func(g int) float64) float64 {
			worst := 0.0
			for g, nodes := range groups {
				var W int64
				for _, n := range nodes {
					W += int64(n.Weight)
				}
				for _, n := range nodes {
					fair := total(g) * float64(n.Weight) / float64(W)
					worst = max(worst, float64(c[n.ID])/fair)
				}
			}
			return worst
		}
		flows := func(g int) float64 { return float64(s.spans[g].hi - s.spans[g].lo) }
		p.Symdist = imb(counts[0], flows)
		p.Maglev = imb(counts[1], flows)
		p.SymdistBound = imb(entries[0], func(int) float64 { return float64(b) })
		p.MaglevBound = imb(entries[1], func(g int) float64 { return float64(NextPrime(max(b, len(groups[g])))) })
		sw.Points = append(sw.Points, p)
	}
	return sw, nil
}

// count returns, for each lookup table, the flows of group g per TM.
func (s *simulator) count(stage string, g int, luts []lut) [][]int64 {
	sp := s.spans[g]
	n := sp.hi - sp.lo
	chunks := (n + scanChunk - 1) / scanChunk
	workers := min(s.workers, max(chunks, 1))
	ntm := len(s.tms)
	accs := make([][][]int64, workers)
	for w := range accs {
		accs[w] = make([][]int64, len(luts))
		for i := range luts {
			accs[w][i] = make([]int64, ntm)
		}
	}
	s.stage(stage, int64(n), func(done *atomic.Int64) {
		parallelChunks(chunks, workers, func(w, c int) {
			lo := sp.lo + c*scanChunk
			hi := min(lo+scanChunk, sp.hi)
			for i := range luts {
				l := luts[i]
				cnt := accs[w][i]
				for _, h := range s.hashes[lo:hi] {
					if b := l.at(h); b >= 0 {
						cnt[b]++
					}
				}
			}
			done.Add(int64(hi - lo))
		})
	})
	out := accs[0]
	for w := 1; w < workers; w++ {
		for i := range out {
			for id, c := range accs[w][i] {
				out[i][id] += c
			}
		}
	}
	return out
}
