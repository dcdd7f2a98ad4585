// SPDX-License-Identifier: Apache-2.0

package assign

import (
	"cmp"
	"slices"
)

// execute carries out a plan on the table and returns the buckets whose
// owner changed, in increasing order. The buckets that move are those of
// TMs not up (or unknown, or ""), and from each TM over its target that many
// of its own, picked evenly over its buckets. They go to the TMs under their
// targets, interleaved so that each one's new buckets spread over the table.
//
// Only when rules 2 and 3 clash (conflict.go) do some unchanged TMs give
// buckets while others take; the buckets the unchanged ones give then go
// first to TMs the change concerns, so the fewest move between two
// unchanged TMs.
//
// owner gives for each bucket the index in ms of its TM, or -1.
func (t *Table) execute(ms []member, owner []int32) []int {
	var free []int // buckets of no up TM, or given up by a changed TM
	lists := make([][]int, len(ms))
	for b, i := range owner {
		switch {
		case i < 0:
			if t.Buckets[b] != "" || len(ms) > 0 {
				free = append(free, b)
			}
		case ms[i].target < ms[i].held:
			lists[i] = append(lists[i], b)
		}
	}
	if len(ms) == 0 {
		for _, b := range free {
			t.Buckets[b] = ""
		}
		return free
	}
	var given []int // buckets given up by unchanged TMs
	for i, m := range ms {
		if m.target >= m.held {
			continue
		}
		picked, _ := pickSpread(lists[i], m.held-m.target)
		if m.unchanged {
			given = append(given, picked...)
		} else {
			free = append(free, picked...)
		}
	}
	var changed, unchanged []int // members under their targets
	needC := 0
	for i, m := range ms {
		switch {
		case m.target <= m.held:
		case m.unchanged:
			unchanged = append(unchanged, i)
		default:
			changed = append(changed, i)
			needC += m.target - m.held
		}
	}
	if len(given) == 0 || len(unchanged) == 0 {
		pool := append(free, given...)
		slices.Sort(pool)
		t.interleave(ms, pool, append(changed, unchanged...))
		return pool
	}
	// A clash: the changed TMs take what unchanged TMs gave first.
	take := min(len(given), needC)
	toChanged, rest := pickSpread(given, take)
	fromFree, freeRest := pickSpread(free, needC-take)
	poolC := append(toChanged, fromFree...)
	poolU := append(rest, freeRest...)
	slices.Sort(poolC)
	slices.Sort(poolU)
	t.interleave(ms, poolC, changed)
	t.interleave(ms, poolU, unchanged)
	moved := append(poolC, poolU...)
	slices.Sort(moved)
	return moved
}

// pickSpread returns k of the sorted list s, evenly spaced, and the rest;
// both stay sorted.
func pickSpread(s []int, k int) (picked, rest []int) {
	if k == 0 {
		return nil, s
	}
	picked = make([]int, 0, k)
	rest = make([]int, 0, len(s)-k)
	m := len(s)
	j := 0
	for p, b := range s {
		// The j-th pick is at (2j+1)*m/(2k): the middle of the j-th of k
		// equal stretches of s.
		if j < k && p == (2*j+1)*m/(2*k) {
			picked = append(picked, b)
			j++
		} else {
			rest = append(rest, b)
		}
	}
	return picked, rest
}

// slot is the j-th new bucket of a receiver that needs n: it sits at
// (2j+1)/(2n) of the way through the pool.
type slot struct {
	num, den int64
	r        int // index in ms
}

// interleave hands out the sorted pool to the receivers (indexes in ms,
// sorted by name) by their needs: each receiver's buckets are placed at
// evenly spaced points of the pool, and the points of all receivers are
// merged in order, ties by name. Equal needs thus take turns, A B C A B C.
func (t *Table) interleave(ms []member, pool []int, recv []int) {
	slots := make([]slot, 0, len(pool))
	for _, r := range recv {
		n := int64(ms[r].target - ms[r].held)
		for j := range n {
			slots = append(slots, slot{2*j + 1, 2 * n, r})
		}
	}
	slices.SortFunc(slots, func(a, b slot) int {
		if c := cmp.Compare(a.num*b.den, b.num*a.den); c != 0 {
			return c
		}
		return cmp.Compare(a.r, b.r)
	})
	for s, b := range pool {
		t.Buckets[b] = ms[slots[s].r].name
	}
}
