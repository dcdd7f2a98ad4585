// SPDX-License-Identifier: Apache-2.0

package assign

import (
	"fmt"
	"slices"
	"strings"

	"github.com/symdist/symdist/contract"
)

// DefaultBuckets is B, the bucket count of a group.
const DefaultBuckets = contract.DefaultBuckets

// Limits that keep the integer arithmetic exact (B*w and the interleave
// keys stay far below 2^63).
const (
	MaxBuckets = 1 << 24
	MaxWeight  = 1 << 20
)

// TM is a traffic manager of a group as the controller sees it. A drained
// TM is given as down.
type TM struct {
	Name   string
	Weight int
	Up     bool
}

// Table is a group's bucket table: Buckets[b] names the TM of bucket b, or
// is "" when no TM of the group is up.
//
// A Table also remembers the TM list it was last computed for (by New,
// Apply or Adopt), as Apply tells what changed by comparing with it. Build
// tables with those functions, not as literals.
type Table struct {
	Buckets []string

	tms []TM // the TM list of the last New, Apply or Adopt, sorted by name
}

// New returns the table of a group of the given bucket count whose TMs are
// tms: each up TM gets its share of the buckets, and a TM's buckets are
// spread over the whole table (owners are interleaved, not in blocks).
func New(buckets int, tms []TM) (*Table, error) {
	if err := validate(buckets, tms); err != nil {
		return nil, err
	}
	t := &Table{Buckets: make([]string, buckets)}
	t.apply(sortedTMs(tms), false)
	return t, nil
}

// Apply moves the table to the TM list tms, which replaces the previous
// list whole: a TM that is new, comes up, goes down, changes weight or is
// left out (which counts as down) is what changed. It returns the indexes of
// the buckets whose owner changed, in increasing order. On error the table
// is left as it was.
func (t *Table) Apply(tms []TM) (moved []int, err error) {
	if err := validate(len(t.Buckets), tms); err != nil {
		return nil, err
	}
	if t.tms == nil {
		return nil, fmt.Errorf("table has no TM list: build it with New or Adopt")
	}
	return t.apply(sortedTMs(tms), false), nil
}

// Adopt returns a table holding buckets, as read back from a switch by a
// controller that restarted, for a group whose TMs are tms. A table that
// meets contract section 6 is kept as it is, so no flow moves. Otherwise
// the fewest buckets move: those of a TM that is down or unknown, and the
// excess of a TM over its share, go to the TMs under theirs.
func Adopt(buckets []string, tms []TM) (*Table, error) {
	if err := validate(len(buckets), tms); err != nil {
		return nil, err
	}
	t := &Table{Buckets: slices.Clone(buckets)}
	t.apply(sortedTMs(tms), true)
	return t, nil
}

// Counts returns how many buckets each TM holds. TMs that hold none, and
// the "" of a group without TMs, are not listed.
func (t *Table) Counts() map[string]int {
	c := make(map[string]int)
	for _, o := range t.Buckets {
		if o != "" {
			c[o]++
		}
	}
	return c
}

// Clone returns a deep copy of t.
func (t *Table) Clone() *Table {
	return &Table{Buckets: slices.Clone(t.Buckets), tms: slices.Clone(t.tms)}
}

// apply computes the plan for the new list and carries it out. repair is
// Adopt's mode: no TM counts as unchanged, and the fewest buckets move.
func (t *Table) apply(next []TM, repair bool) []int {
	prev := t.tms
	if repair {
		prev = nil
	}
	ms, dir, owner := members(t.Buckets, prev, next)
	plan(len(t.Buckets), ms, dir, repair)
	moved := t.execute(ms, owner)
	if next == nil {
		next = []TM{} // remember "no TMs" as a list, so Apply works
	}
	t.tms = next
	return moved
}

func validate(buckets int, tms []TM) error {
	if buckets < 1 || buckets > MaxBuckets || buckets&(buckets-1) != 0 {
		return fmt.Errorf("bucket count %d is not a power of two from 1 to %d", buckets, MaxBuckets)
	}
	seen := make(map[string]bool, len(tms))
	for _, tm := range tms {
		switch {
		case tm.Name == "":
			return fmt.Errorf("TM with an empty name")
		case seen[tm.Name]:
			return fmt.Errorf("TM %q listed twice", tm.Name)
		case tm.Weight < 1 || tm.Weight > MaxWeight:
			return fmt.Errorf("TM %q: weight %d is not from 1 to %d", tm.Name, tm.Weight, MaxWeight)
		}
		seen[tm.Name] = true
	}
	return nil
}

// sortedTMs returns a copy of tms sorted by name, so that the order of the
// caller's list never changes the result.
func sortedTMs(tms []TM) []TM {
	s := slices.Clone(tms)
	slices.SortFunc(s, func(a, b TM) int { return strings.Compare(a.Name, b.Name) })
	return s
}
