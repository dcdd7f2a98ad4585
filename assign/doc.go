// SPDX-License-Identifier: Apache-2.0

// Package assign is the controller's bucket assignment: it keeps a group's
// bucket table (contract section 3: B buckets, B a power of two, default
// 4096, each naming a TM) so that it meets contract section 6 after every
// change of the group's TMs: they come, go, go down, come up and change
// weight.
//
//	t, err := assign.New(4096, tms)      // first table
//	moved, err := t.Apply(newTMs)        // the whole new list; moved = buckets to rewrite, sorted
//	t, err = assign.Adopt(readBack, tms) // a restarted controller keeps the switch's table
//
// A Table remembers the TM list it was computed for, and Apply finds what
// changed by comparing with it; so build tables with New or Adopt, not as
// literals. The tests hold every table to rules 1 and 2 (Check) and every
// change to rule 3 (CheckMovement), both in check_test.go.
//
// # Guarantees
//
// After New, Apply and Adopt, always:
//
//  1. Every bucket names an up TM (all are "" when no TM is up).
//  2. Every up TM holds the floor or the ceil of B*w/W, W the sum of the
//     up TMs' weights.
//
// After Apply, and unless rules 2 and 3 clash (below):
//
//  3. When a TM goes down (or is left out of the list) only its buckets
//     move; when one comes up or is added, buckets move only to it; when
//     one changes weight, only to or from it. No TM both gains and loses
//     buckets, and a TM the change does not concern only gains (its ideal
//     grew), only loses (it shrank) or keeps its buckets (the weight sum
//     did not change). A change of several TMs at once moves no bucket
//     between two TMs it does not concern.
//  4. Same table and same list give the same result, in any list order, on
//     any machine: no maps are iterated, no randomness; ties go by name.
//
// Adopt keeps a table that meets rules 1 and 2, so a controller restart
// moves no flow; otherwise it moves the fewest buckets (those of down or
// unknown TMs, and the excess of TMs over their share).
//
// Rules 2 and 3 can clash: a rounding can require a bucket to move between
// two TMs that the change does not concern (B = 2, weights 1, 1, 2, 3, the
// weight-2 TM holding nothing goes down). With rule 3 read as in point 3,
// an exhaustive search shows that no controller can avoid this in general.
// Rule 2 wins, by the fewest buckets possible, and CheckMovement allows
// exactly those. conflict.go has the proof and the reasons. Choosing the
// roundings by largest remainder keeps clashes rare: the random
// single-change tests at B = 16, 64 and 4096 meet none; changes from
// random tables that meet rule 2 meet one in 70.
//
// # Algorithm
//
//  1. Ideal of each up TM: floor and remainder of B*w/W (exact integers).
//  2. Bounds: floor..ceil, narrowed for unchanged TMs to "no loss" when
//     their ideals grew, "no gain" when they shrank (all unchanged ideals
//     scale by the same W/W'). If the bounds cannot sum to B, widen the
//     fewest (the clash).
//  3. Targets: lower bounds, plus one for the TMs with the largest
//     remainders (largest remainder method), then those already holding the
//     extra bucket, then by name. Adopt puts the holders first, to move the
//     fewest.
//  4. Moves: buckets of TMs not up, and from each TM over its target that
//     many of its own, picked evenly over its buckets, go to the TMs under
//     target. Each receiver's buckets are evenly spaced points of the pool,
//     all receivers' points merged, so new buckets spread over the table
//     (New interleaves: A B C A B C ...).
//
// Apply costs O(B + N log N + moved log moved): BenchmarkApply times each
// event kind (fail, recover, add, remove, weight) at N = 16, 256, 1000 and
// B = 4096, 65536; docs/performance.md has the figures (about 2-3 ms of
// CPU per event at N = 1000, B = 65,536).
package assign
