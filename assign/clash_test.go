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
	ms, dir := members(before.Buckets, sortedTMs(abcd), sortedTMs(next))
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
// 2 and rule 3 as CheckMovement reads it: unchanged TMs gain only, when
// their ideal grows, or lose only, when it shrinks. The search removes the
// states from which some change has no answer in the remaining states,
// until none is removed: what remains is every state from which the
// controller can keep both rules forever. Nothing remains.
func TestClashIsUnavoidable(t *testing.T) {
	const b, maxN, maxW = 4, 6, 3
	type tm struct{ w, c int }
	states := map[string][]tm{}
	// counts returns the keys of the states of weights ws whose counts meet
	// rule 2 and lie within lo and hi.
	counts := func(ws, lo, hi []int) []string {
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
				for cs[i] = max(f, lo[i]); cs[i] <= min(c, hi[i]); cs[i]++ {
					rec(i+1, left-cs[i])
				}
				return
			}
			if left != 0 {
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
	fill := func(n, v int) []int { return slices.Repeat([]int{v}, n) }
	var weights func(ws []int)
	weights = func(ws []int) {
		if len(ws) > 0 {
			counts(ws, fill(len(ws), 0), fill(len(ws), b))
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
				a = append(a, counts(slices.Delete(slices.Clone(ws), d, d+1),
					slices.Delete(slices.Clone(cs), d, d+1), fill(n-1, b)))
			}
		}
		for y := 1; y <= maxW && n < maxN; y++ { // one comes up: the others only lose
			a = append(a, counts(append(slices.Clone(ws), y), fill(n+1, 0), append(slices.Clone(cs), b)))
		}
		for x := range n { // x changes weight: the others all gain or all lose
			for y := 1; y <= maxW; y++ {
				if y == ws[x] {
					continue
				}
				nw, lo, hi := slices.Clone(ws), fill(n, 0), fill(n, b)
				nw[x] = y
				for i := range n {
					switch {
					case i == x:
					case y > ws[x]:
						hi[i] = cs[i]
					default:
						lo[i] = cs[i]
					}
				}
				a = append(a, counts(nw, lo, hi))
			}
		}
		answers[k] = a
	}
	if len(answers) != len(states) || len(states) < 150 {
		t.Fatalf("%d states, %d with answers", len(states), len(answers))
	}
	safe := map[string]bool{}
	for k := range states {
		safe[k] = true
	}
	for removed := true; removed; {
		removed = false
		for k := range safe {
			for _, a := range answers[k] {
				if !slices.ContainsFunc(a, func(k string) bool { return safe[k] }) {
					delete(safe, k)
					removed = true
					break
				}
			}
		}
	}
	if len(safe) > 0 {
		t.Errorf("%d of %d states keep both rules forever, want none", len(safe), len(states))
	}
}
