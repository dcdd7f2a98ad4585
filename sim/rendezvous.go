// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"cmp"
	"math"
	"slices"
)

// Rendezvous is weighted rendezvous (highest random weight) hashing:
// Thaler and Ravishankar, "Using name-based mappings to increase hit
// rates", IEEE/ACM ToN 1998, with the logarithmic weighting of
// Schindelhauer and Schomaker ("Weighted distributed hash tables", SPAA
// 2005; also J. Resch, "New hashing algorithms for data storage"): a flow
// goes to the node of highest score
//
//	score(node, flow) = -w / ln(u),  u = uniform in (0, 1) from (node, flow)
//
// -ln(u)/w is exponential of rate w, and the smallest of independent
// exponentials is node i's with probability w_i / sum w: shares follow the
// weights. Removing a node moves only its flows (everyone else's maximum is
// unchanged); adding one moves only flows to it.
//
// u is built from the flow's 32-bit hash h (contract.Hash) and the node's
// seed s = nameHash(3, name): k = fmix64(s XOR h*0x9e3779b97f4a7c15) >> 11,
// a 53-bit integer, and u = (k + 0.5) / 2^53. Among nodes of equal weight
// the larger k wins, so no logarithm is taken there; across weights the
// scores are compared. Ties (equal k, or equal scores) go to the lower ID.
type Rendezvous struct {
	classes []rvClass // by weight, ascending
}

type rvClass struct {
	w     int
	fw    float64
	seeds []uint64
	ids   []int32 // ascending
}

// NewRendezvous returns the rendezvous hash over the nodes.
func NewRendezvous(nodes []Node) *Rendezvous {
	ns := slices.Clone(nodes)
	slices.SortFunc(ns, func(a, b Node) int {
		if c := cmp.Compare(a.Weight, b.Weight); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	r := &Rendezvous{}
	for _, n := range ns {
		if len(r.classes) == 0 || r.classes[len(r.classes)-1].w != n.Weight {
			r.classes = append(r.classes, rvClass{w: n.Weight, fw: float64(n.Weight)})
		}
		c := &r.classes[len(r.classes)-1]
		c.seeds = append(c.seeds, rvSeed(n.Name))
		c.ids = append(c.ids, n.ID)
	}
	return r
}

func rvSeed(name string) uint64 { return nameHash(seedRendezvous, name) }

// rvKey is the 53-bit draw of a node (by its seed) for a flow (by hm =
// h*golden).
func rvKey(seed, hm uint64) uint64 { return fmix64(seed^hm) >> 11 }

// rvScore is -w/ln(u) for u = (k+0.5)/2^53.
func rvScore(w float64, k uint64) float64 {
	u := (float64(k) + 0.5) * 0x1p-53
	return w / -math.Log(u)
}

// rvCand is a node's standing for one flow.
type rvCand struct {
	id int32
	w  int
	k  uint64
}

// beats reports whether a wins over b for the same flow.
func (a rvCand) beats(b rvCand) bool {
	if b.id < 0 {
		return a.id >= 0
	}
	if a.w == b.w {
		return a.k > b.k || (a.k == b.k && a.id < b.id)
	}
	sa, sb := rvScore(float64(a.w), a.k), rvScore(float64(b.w), b.k)
	return sa > sb || (sa == sb && a.id < b.id)
}

// pick returns the winner for a flow hash; id -1 when there are no nodes.
func (r *Rendezvous) pick(h uint32) rvCand {
	hm := uint64(h) * golden
	best := rvCand{id: -1}
	for ci := range r.classes {
		c := &r.classes[ci]
		bi, bk := maxKey(c.seeds, hm)
		cand := rvCand{id: c.ids[bi], w: c.w, k: bk}
		if cand.beats(best) {
			best = cand
		}
	}
	return best
}

// maxKey returns the index and key of the largest key among the seeds (not
// empty) for a flow; on equal keys the first stays, which has the lower ID.
func maxKey(seeds []uint64, hm uint64) (int, uint64) {
	bi, bk := 0, rvKey(seeds[0], hm)
	for j, s := range seeds {
		if k := rvKey(s, hm); k > bk {
			bk, bi = k, j
		}
	}
	return bi, bk
}

// Lookup returns the node ID of a flow hash, -1 when there are no nodes.
func (r *Rendezvous) Lookup(h uint32) int32 { return r.pick(h).id }
