// SPDX-License-Identifier: Apache-2.0

package sim

import "fmt"

// Node is a TM as a baseline sees it: ID is its index in the simulation's
// TM list (what a lookup returns), Name is what Maglev and rendezvous hash,
// Weight is its weight (at least 1).
type Node struct {
	ID     int32
	Name   string
	Weight int
}

// DefaultMaglevSize is the paper's example table size M, a prime.
const DefaultMaglevSize = 65537

// Maglev is a Maglev lookup table: Eisenbud et al., "Maglev: A Fast and
// Reliable Software Network Load Balancer", NSDI 2016, section 3.4.
//
// Each backend i has a permutation of the M slots,
//
//	offset = h1(name) mod M
//	skip   = h2(name) mod (M-1) + 1
//	permutation[i][j] = (offset + j*skip) mod M
//
// and the backends take turns (pseudocode 1 of the paper): at its turn a
// backend takes the next slot of its permutation that is still empty, until
// all M slots are full. M prime makes every permutation visit every slot.
// h1 and h2 are nameHash with seeds 1 and 2 (FNV-1a-64 of the seed and the
// name). A flow goes to Entry[h mod M], h the flow's CRC-32 (contract.Hash).
//
// Weights follow Envoy's weighted Maglev (source/common/upstream/
// maglev_lb.cc): in round r = 1, 2, ... a backend of weight w takes its turn
// only if r*w >= count, and then adds max weight to count (count starts at
// 0). A backend of the largest weight takes every turn, one of a third of it
// every third. With equal weights this is the paper's algorithm exactly.
type Maglev struct {
	Entry []int32 // slot -> node ID, -1 when there are no nodes
}

// NewMaglev fills a table of m slots (m prime, at least the number of
// nodes) for the nodes, in their order (the order of the turns).
func NewMaglev(m int, nodes []Node) (*Maglev, error) {
	if !IsPrime(m) {
		return nil, fmt.Errorf("maglev: table size %d is not prime", m)
	}
	if len(nodes) > m {
		return nil, fmt.Errorf("maglev: %d backends for %d slots", len(nodes), m)
	}
	entry := make([]int32, m)
	for i := range entry {
		entry[i] = -1
	}
	t := &Maglev{Entry: entry}
	if len(nodes) == 0 {
		return t, nil
	}
	mm := uint64(m)
	ps := make([]maglevPerm, len(nodes))
	for i, n := range nodes {
		if n.Weight < 1 {
			return nil, fmt.Errorf("maglev: node %q has weight %d", n.Name, n.Weight)
		}
		ps[i] = maglevPerm{
			offset: nameHash(seedMaglevOffset, n.Name) % mm,
			skip:   nameHash(seedMaglevSkip, n.Name)%(mm-1) + 1,
			weight: uint64(n.Weight),
			id:     n.ID,
		}
	}
	populate(entry, ps)
	return t, nil
}

// maglevPerm is a backend's permutation (offset, skip), weight and ID.
type maglevPerm struct {
	offset, skip, weight uint64
	id                   int32
}

// populate fills entry (all -1, of prime length M) by pseudocode 1 of the
// paper, with Envoy's weighted turns.
func populate(entry []int32, ps []maglevPerm) {
	mm := uint64(len(entry))
	var maxW uint64
	for _, p := range ps {
		maxW = max(maxW, p.weight)
	}
	pos := make([]uint64, len(ps))   // permutation[i][next[i]]
	count := make([]uint64, len(ps)) // Envoy's counts_, in units of maxW
	for i, p := range ps {
		pos[i] = p.offset
	}
	filled := 0
	for round := uint64(1); ; round++ {
		for i, p := range ps {
			if round*p.weight < count[i] {
				continue
			}
			count[i] += maxW
			c := pos[i]
			for entry[c] >= 0 {
				c += p.skip
				if c >= mm {
					c -= mm
				}
			}
			entry[c] = p.id
			c += p.skip
			if c >= mm {
				c -= mm
			}
			pos[i] = c
			filled++
			if filled == len(entry) {
				return
			}
		}
	}
}

// Lookup returns the node ID of a flow hash, -1 when there are no nodes.
func (t *Maglev) Lookup(h uint32) int32 {
	return t.Entry[h%uint32(len(t.Entry))]
}

// Counts returns how many slots each node ID holds.
func (t *Maglev) Counts() map[int32]int {
	c := make(map[int32]int)
	for _, id := range t.Entry {
		if id >= 0 {
			c[id]++
		}
	}
	return c
}

// ModN is plain ECMP: a flow goes to Up[h mod len(Up)], Up the list of the
// up TMs in configuration order. It ignores weights.
type ModN struct {
	Up []int32
}

// Lookup returns the node ID of a flow hash, -1 when no node is up.
func (m ModN) Lookup(h uint32) int32 {
	if len(m.Up) == 0 {
		return -1
	}
	return m.Up[h%uint32(len(m.Up))]
}

// changedEntries counts the positions at which two lookup lists differ,
// the positions only one of them has included.
func changedEntries(a, b []int32) int {
	n := 0
	for i := range max(len(a), len(b)) {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			n++
		}
	}
	return n
}
