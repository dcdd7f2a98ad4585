// SPDX-License-Identifier: Apache-2.0

package assign

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
)

// The example of conflict.go: rule 2 wins, by the fewest buckets.
func TestClash(t *testing.T) {
	abcd := []TM{up("a", 1), up("b", 1), up("c", 2), up("d", 3)}
	tb, err := Adopt([]string{"a", "b"}, abcd)
	if err != nil {
		t.Fatal(err)
	}
	if got := table(tb); got != "ab" {
		t.Fatalf("Adopt moved a table that meets rule 2: %q", got)
	}
	next := []TM{up("a", 1), up("b", 1), down("c", 2), up("d", 3)}
	before := tb.Clone()
	ms, dir, _ := members(before.Buckets, sortedTMs(abcd), sortedTMs(next))
	if forced := plan(2, ms, dir, false); forced != 1 {
		t.Errorf("forced = %d, want 1", forced)
	}
	moved, err := tb.Apply(next)
	if err != nil {
		t.Fatal(err)
	}
	// d takes the bucket of the TM with the smaller fraction; both are
	// 2/5, so of a, by name.
	if got := table(tb); got != "db" {
		t.Errorf("table %q, want \"db\"", got)
	}
	if !slices.Equal(moved, []int{0}) {
		t.Errorf("moved %v, want [0]", moved)
	}
	if err := Check(tb, next); err != nil {
		t.Error(err)
	}
	if err := CheckMovement(before, tb, abcd, next); err != nil {
		t.Errorf("CheckMovement refuses the unavoidable move: %v", err)
	}
	// One more such move is refused.
	worse := &Table{Buckets: []string{"d", "d"}}
	if err := CheckMovement(before, worse, abcd, next); err == nil {
		t.Error("CheckMovement allows a second move between unchanged TMs")
	}
}

// TestClashIsUnavoidable proves, by exhaustive search, that no controller
// can meet rules 2 and 3 after every change: with B = 4 and up to 6 TMs of
// weights 1 to 3, from every table of every TM set some sequence of changes
// forces a clash.
//
// It plays the game "the operator makes a change, the controller picks the
// new counts". A state is the multiset of (weight, count) of the up TMs
// (which buckets a TM holds does not matter to the rules, and down TMs hold
// none). The changes are: a TM goes down, a TM of weight 1 to 3 comes up, a
// TM's weight changes. The controller may answer any counts that meet rule
// 2 and rule 3 as CheckMovement reads it: unchanged TMs only gain when
// their ideal grows (a TM went down or got lighter), only lose when it
// shrinks. The search removes the states from which some change has no
// answer among the remaining states, until none is removed: what remains
// are the states from which the controller can keep both rules forever.
// Nothing remains.
//
// The letter of rule 3 is weaker for a weight change: "buckets move only
// to or from it" lets unchanged TMs lose buckets to the changed TM while
// others gain the changed TM's own. With that reading, states remain (the
// second case): a controller could then avoid clashes in this small
// world, but only by moving buckets of TMs that the change does not
// concern, which is the harm rule 3 is there to prevent.
func TestClashIsUnavoidable(t *testing.T) {
	for _, tt := range []struct {
		name     string
		letter   bool
		wantSafe bool
	}{
		{"CheckMovement's rule 3", false, false},
		{"letter of rule 3", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			safe, total := solveGame(4, 6, 3, tt.letter)
			if total != 192 {
				t.Fatalf("%d states, want 192", total)
			}
			if (safe > 0) != tt.wantSafe {
				t.Errorf("%d of %d states keep both rules forever, want some: %v", safe, total, tt.wantSafe)
			}
		})
	}
}

// solveGame plays the game of TestClashIsUnavoidable with b buckets, up to
// maxN TMs of weights 1 to maxW. It returns how many states are safe, of how
// many.
func solveGame(b, maxN, maxW int, letter bool) (safe, total int) {
	type tm struct{ w, c int }
	states := map[string][]tm{}
	// counts returns the keys of the states of weights ws whose counts cs
	// meet rule 2 and ok(cs).
	counts := func(ws []int, ok func(cs []int) bool) []string {
		w := 0
		for _, x := range ws {
			w += x
		}
		var keys []string
		cs := make([]int, len(ws))
		var rec func(i, left int)
		rec = func(i, left int) {
			if i < len(ws) {
				f := b * ws[i] / w
				c := f
				if b*ws[i]%w != 0 {
					c++
				}
				for cs[i] = f; cs[i] <= c; cs[i]++ {
					rec(i+1, left-cs[i])
				}
				return
			}
			if left != 0 || !ok(cs) {
				return
			}
			s := make([]tm, len(ws))
			for j := range ws {
				s[j] = tm{ws[j], cs[j]}
			}
			slices.SortFunc(s, func(x, y tm) int { return cmp.Or(x.w-y.w, x.c-y.c) })
			k := fmt.Sprint(s)
			states[k] = s
			keys = append(keys, k)
		}
		rec(0, b)
		return keys
	}
	all := func([]int) bool { return true }
	var weights func(ws []int)
	weights = func(ws []int) {
		if len(ws) > 0 {
			counts(ws, all)
		}
		for w := 1; w <= maxW && len(ws) < maxN; w++ {
			if len(ws) == 0 || w >= ws[len(ws)-1] {
				weights(append(slices.Clone(ws), w))
			}
		}
	}
	weights(nil)
	// answers[k][e] are the controller's answers to the e-th change of k.
	answers := map[string][][]string{}
	for k, s := range states {
		n := len(s)
		ws, cs := make([]int, n), make([]int, n)
		for i, x := range s {
			ws[i], cs[i] = x.w, x.c
		}
		var a [][]string
		for d := range n { // d goes down: the others only gain
			if n > 1 {
				left := slices.Delete(slices.Clone(cs), d, d+1)
				a = append(a, counts(slices.Delete(slices.Clone(ws), d, d+1), func(nc []int) bool {
					for i := range nc {
						if nc[i] < left[i] {
							return false
						}
					}
					return true
				}))
			}
		}
		for y := 1; y <= maxW && n < maxN; y++ { // one comes up: the others only lose
			a = append(a, counts(append(slices.Clone(ws), y), func(nc []int) bool {
				for i := range n {
					if nc[i] > cs[i] {
						return false
					}
				}
				return true
			}))
		}
		for x := range n { // x changes weight
			for y := 1; y <= maxW; y++ {
				if y == ws[x] {
					continue
				}
				nw := slices.Clone(ws)
				nw[x] = y
				a = append(a, counts(nw, func(nc []int) bool {
					gain, lose := 0, 0
					for i := range n {
						if i != x {
							gain += max(nc[i]-cs[i], 0)
							lose += max(cs[i]-nc[i], 0)
						}
					}
					if letter {
						// The others gain only what x held.
						return gain <= cs[x]
					}
					// The others all gain (x got lighter) or all lose.
					return y > ws[x] && gain == 0 || y < ws[x] && lose == 0
				}))
			}
		}
		answers[k] = a
	}
	ok := map[string]bool{}
	for k := range states {
		ok[k] = true
	}
	for removed := true; removed; {
		removed = false
		for k := range ok {
			for _, a := range answers[k] {
				if !slices.ContainsFunc(a, func(k string) bool { return ok[k] }) {
					delete(ok, k)
					removed = true
					break
				}
			}
		}
	}
	return len(ok), len(states)
}
