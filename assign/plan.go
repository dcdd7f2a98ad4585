// SPDX-License-Identifier: Apache-2.0

package assign

import (
	"cmp"
	"slices"
	"strings"
)

// member is an up TM of the new list, with what the plan needs of it.
type member struct {
	name  string
	held  int   // buckets it holds before the change
	floor int   // floor of its ideal count B*w/W
	rem   int64 // B*w mod W: the ideal is floor + rem/W, so ceil is floor+1 when rem > 0
	// unchanged: up with the same weight before and after. The change does
	// not concern it, so it may only gain or only lose buckets (see dir).
	unchanged bool
	lo, hi    int // bounds of its new count
	target    int // its new count
}

func (m *member) ceil() int {
	if m.rem > 0 {
		return m.floor + 1
	}
	return m.floor
}

// direction is how the ideal counts of the unchanged TMs move. They all
// scale by the same factor W/W' (old and new sum of the up weights), so
// they all grow, all shrink or all stay.
type direction int

const (
	grow   direction = 1  // W' < W: a TM went down or got lighter; unchanged TMs only gain
	shrink direction = -1 // W' > W: a TM came up or got heavier; unchanged TMs only lose
	stay   direction = 0  // W' = W: unchanged TMs keep their buckets
)

// members returns the up TMs of next (sorted by name, as next is) with
// their current counts in buckets and their ideal counts, the direction of
// the unchanged ones, and for each bucket the index in ms of its TM, or -1.
// prev is the list the table was computed for.
func members(buckets []string, prev, next []TM) ([]member, direction, []int32) {
	var ms []member
	index := make(map[string]int32, len(next))
	var w int64
	for _, tm := range next {
		if tm.Up {
			index[tm.Name] = int32(len(ms))
			ms = append(ms, member{name: tm.Name})
			w += int64(tm.Weight)
		}
	}
	owner := make([]int32, len(buckets))
	for b, o := range buckets {
		i, ok := index[o]
		if !ok {
			i = -1
		} else {
			ms[i].held++
		}
		owner[b] = i
	}
	old := make(map[string]int, len(prev)) // weights of the TMs up before
	var oldW int64
	for _, tm := range prev {
		if tm.Up {
			old[tm.Name] = tm.Weight
			oldW += int64(tm.Weight)
		}
	}
	b := int64(len(buckets))
	i := 0
	for _, tm := range next {
		if !tm.Up {
			continue
		}
		m := &ms[i]
		i++
		m.floor = int(b * int64(tm.Weight) / w)
		m.rem = b * int64(tm.Weight) % w
		m.unchanged = old[tm.Name] == tm.Weight
	}
	dir := stay
	switch {
	case w < oldW:
		dir = grow
	case w > oldW:
		dir = shrink
	}
	return ms, dir, owner
}

// bounds sets each member's lo and hi: its ideal's floor and ceil (contract
// rule 2), narrowed for an unchanged TM so that it does not move against
// dir (rule 3). It returns the sums of lo and of hi, and how many buckets
// unchanged TMs must move against dir because they hold more than the ceil
// or less than the floor of their new ideal (only after a table that broke
// rule 2, such as one built by hand).
func bounds(ms []member, dir direction, repair bool) (sumLo, sumHi, outside int) {
	for i := range ms {
		m := &ms[i]
		m.lo, m.hi = m.floor, m.ceil()
		if m.unchanged && !repair {
			c := min(max(m.held, m.lo), m.hi)
			if dir != shrink {
				m.lo = c
				outside += max(m.held-c, 0)
			}
			if dir != grow {
				m.hi = c
				outside += max(c-m.held, 0)
			}
		}
		sumLo += m.lo
		sumHi += m.hi
	}
	return sumLo, sumHi, outside
}

// plan sets every member's target: a count between the floor and the ceil
// of its ideal, the targets summing to B (rules 1 and 2), that moves no
// unchanged TM against dir (rule 3) unless that is impossible (then the
// fewest do, see conflict.go). It returns how many buckets unchanged TMs
// have to gain or lose against dir: 0 unless rules 2 and 3 clash.
//
// Within the bounds, the extra buckets (a ceil rather than a floor) go
// first to the TMs whose ideal has the larger fraction, as in the largest
// remainder method: this keeps every TM near its ideal, which is what lets
// later changes meet rule 3 (conflict.go). Then to the TMs that hold the
// extra bucket already, so it does not move; then by name. Adopt (repair)
// has no change to follow, so it only moves the fewest buckets: holders
// first, then the fraction, then the name.
func plan(b int, ms []member, dir direction, repair bool) (forced int) {
	if len(ms) == 0 {
		return 0
	}
	sumLo, sumHi, outside := bounds(ms, dir, repair)
	forced = outside + relax(ms, b, sumLo, sumHi)
	sumLo = 0
	var cand []int
	for i := range ms {
		m := &ms[i]
		m.target = m.lo
		sumLo += m.lo
		if m.lo < m.hi {
			cand = append(cand, i)
		}
	}
	holds := func(i int) int {
		if ms[i].held >= ms[i].hi {
			return 0
		}
		return 1
	}
	byRem := func(i, j int) int { return cmp.Compare(ms[j].rem, ms[i].rem) }
	byHolds := func(i, j int) int { return cmp.Compare(holds(i), holds(j)) }
	first, second := byRem, byHolds
	if repair {
		first, second = byHolds, byRem
	}
	slices.SortFunc(cand, func(i, j int) int {
		if c := first(i, j); c != 0 {
			return c
		}
		if c := second(i, j); c != 0 {
			return c
		}
		return strings.Compare(ms[i].name, ms[j].name)
	})
	for _, i := range cand[:b-sumLo] {
		ms[i].target++
	}
	return forced
}

// relax widens the bounds of unchanged TMs when rule 2 cannot be met
// without moving some against dir (conflict.go), as few as possible: when
// the lower bounds sum to more than B, the unchanged TMs holding the ceil
// of the smallest fractions drop to the floor; when the upper bounds sum to
// less than B, those held at the floor with the largest fractions rise to
// the ceil. It returns how many it moved.
func relax(ms []member, b, sumLo, sumHi int) int {
	var over []int
	n := 0
	switch {
	case sumLo > b:
		n = sumLo - b
		for i, m := range ms {
			if m.lo > m.floor {
				over = append(over, i)
			}
		}
		slices.SortFunc(over, func(i, j int) int {
			if c := cmp.Compare(ms[i].rem, ms[j].rem); c != 0 {
				return c
			}
			return strings.Compare(ms[i].name, ms[j].name)
		})
		for _, i := range over[:n] {
			ms[i].lo, ms[i].hi = ms[i].floor, ms[i].floor
		}
	case sumHi < b:
		n = b - sumHi
		for i, m := range ms {
			if m.hi < m.ceil() {
				over = append(over, i)
			}
		}
		slices.SortFunc(over, func(i, j int) int {
			if c := cmp.Compare(ms[j].rem, ms[i].rem); c != 0 {
				return c
			}
			return strings.Compare(ms[i].name, ms[j].name)
		})
		for _, i := range over[:n] {
			ms[i].lo, ms[i].hi = ms[i].ceil(), ms[i].ceil()
		}
	}
	return n
}
