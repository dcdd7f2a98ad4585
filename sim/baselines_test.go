// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"math"
	"slices"
	"testing"
)

func nodes(n int, weight func(i int) int) []Node {
	ns := make([]Node, n)
	for i := range ns {
		w := 1
		if weight != nil {
			w = weight(i)
		}
		ns[i] = Node{ID: int32(i), Name: TMName(i + 1), Weight: w}
	}
	return ns
}

func without(ns []Node, id int32) []Node {
	return slices.DeleteFunc(slices.Clone(ns), func(n Node) bool { return n.ID == id })
}

// testHashes are 200,000 flow hashes shared by the tests.
var testHashes = GenerateHashes(7, 200000, 0.2, 0, nil)

// Pseudocode 1 on a table of M = 7 and three backends whose permutations
// are (offset, skip) = (3, 4), (0, 2), (3, 1), the example of the paper's
// table 1: B0 prefers 3 0 4 1 5 2 6, B1 0 2 4 6 1 3 5, B2 3 4 5 6 0 1 2.
// Worked by hand: round 1 B0 takes 3, B1 0, B2 4 (3 is taken); round 2 B0
// 1, B1 2, B2 5; round 3 B0 6. Without B1: B0 3, B2 4; B0 0, B2 5; B0 1,
// B2 6; B0 2. Slot 6 moves from B0 to B2 though B0 stays: Maglev is not
// minimally disruptive.
func TestMaglevPaperExample(t *testing.T) {
	fill := func(ps []maglevPerm) []int32 {
		e := slices.Repeat([]int32{-1}, 7)
		populate(e, ps)
		return e
	}
	b0 := maglevPerm{offset: 3, skip: 4, weight: 1, id: 0}
	b1 := maglevPerm{offset: 0, skip: 2, weight: 1, id: 1}
	b2 := maglevPerm{offset: 3, skip: 1, weight: 1, id: 2}
	if got, want := fill([]maglevPerm{b0, b1, b2}), []int32{1, 0, 1, 0, 2, 2, 0}; !slices.Equal(got, want) {
		t.Errorf("before: %v, want %v", got, want)
	}
	if got, want := fill([]maglevPerm{b0, b2}), []int32{0, 0, 0, 0, 2, 2, 2}; !slices.Equal(got, want) {
		t.Errorf("after B1 is removed: %v, want %v", got, want)
	}
}

// Each backend gets M/N entries, give or take one (it takes one per round
// until the table is full), for any N.
func TestMaglevEvenShares(t *testing.T) {
	for _, n := range []int{1, 3, 16, 100, 1000} {
		m, err := NewMaglev(DefaultMaglevSize, nodes(n, nil))
		if err != nil {
			t.Fatal(err)
		}
		c := m.Counts()
		lo, hi := DefaultMaglevSize/n, (DefaultMaglevSize+n-1)/n
		for id := range n {
			if c[int32(id)] < lo || c[int32(id)] > hi {
				t.Errorf("N=%d: backend %d has %d entries, want %d-%d", n, id, c[int32(id)], lo, hi)
			}
		}
	}
}

// Weighted (Envoy's turns): entries follow the weights.
func TestMaglevWeighted(t *testing.T) {
	ns := nodes(12, func(i int) int { return 1 + i%3 }) // weights 1, 2, 3; W = 24
	m, err := NewMaglev(DefaultMaglevSize, ns)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Counts()
	for _, n := range ns {
		want := float64(DefaultMaglevSize) * float64(n.Weight) / 24
		if math.Abs(float64(c[n.ID])-want) > 0.005*want+2 {
			t.Errorf("%s (weight %d): %d entries, want about %.0f", n.Name, n.Weight, c[n.ID], want)
		}
	}
}

// Removing one backend changes its own entries and few others (the paper's
// "minimal disruption" is approximate: figure 13 and section 3.4).
func TestMaglevRemovalDisruption(t *testing.T) {
	for _, n := range []int{16, 100} {
		ns := nodes(n, nil)
		before, _ := NewMaglev(DefaultMaglevSize, ns)
		after, _ := NewMaglev(DefaultMaglevSize, without(ns, 5))
		own, other := 0, 0
		for i, id := range before.Entry {
			switch {
			case id == 5:
				own++
				if after.Entry[i] == 5 {
					t.Fatal("an entry still names the removed backend")
				}
			case after.Entry[i] != id:
				other++
			}
		}
		// Measured: N=16 about 0.4% of M, N=100 about 1.2%.
		if frac := float64(other) / DefaultMaglevSize; frac > 0.02 {
			t.Errorf("N=%d: %d entries of surviving backends changed (%.2f%% of M), want under 2%%", n, other, 100*frac)
		}
		t.Logf("N=%d: removed backend held %d entries; %d others changed (%.2f%% of M)", n, own, other, 100*float64(other)/DefaultMaglevSize)
	}
}

func TestMaglevErrors(t *testing.T) {
	if _, err := NewMaglev(65536, nodes(3, nil)); err == nil {
		t.Error("size 65536 (not prime) accepted")
	}
	if _, err := NewMaglev(5, nodes(7, nil)); err == nil {
		t.Error("7 backends in 5 slots accepted")
	}
	m, err := NewMaglev(7, nil)
	if err != nil || m.Lookup(3) != -1 {
		t.Errorf("empty table: %v %v", m, err)
	}
}

// Rendezvous: only the removed node's flows move, only flows to an added
// node move, and shares follow weights.
func TestRendezvousMinimalDisruption(t *testing.T) {
	ns := nodes(20, func(i int) int { return 1 + i%4 })
	r := NewRendezvous(ns)
	rm := NewRendezvous(without(ns, 7))
	for _, h := range testHashes {
		a, b := r.Lookup(h), rm.Lookup(h)
		if a != 7 && a != b {
			t.Fatalf("hash %#x moved from %d to %d when node 7 was removed", h, a, b)
		}
		if a == 7 && b == 7 {
			t.Fatal("a flow stayed on the removed node")
		}
	}
	// Adding node 7 back is the reverse: only flows to 7 move.
	// Heavier node 3 (weight 4 -> 9): flows move only to it.
	heavy := slices.Clone(ns)
	heavy[3].Weight = 9
	rh := NewRendezvous(heavy)
	for _, h := range testHashes {
		if a, b := r.Lookup(h), rh.Lookup(h); a != b && b != 3 {
			t.Fatalf("hash %#x moved from %d to %d when node 3 got heavier", h, a, b)
		}
	}
}

func TestRendezvousWeights(t *testing.T) {
	ns := nodes(10, func(i int) int { return 1 + i%3 }) // W = 1+2+3+1+2+3+1+2+3+1 = 19
	r := NewRendezvous(ns)
	c := make([]int, len(ns))
	for _, h := range testHashes {
		c[r.Lookup(h)]++
	}
	for _, n := range ns {
		want := float64(len(testHashes)) * float64(n.Weight) / 19
		// 5 standard deviations of a binomial count.
		if d := math.Abs(float64(c[n.ID]) - want); d > 5*math.Sqrt(want) {
			t.Errorf("%s (weight %d): %d flows, want %.0f", n.Name, n.Weight, c[n.ID], want)
		}
	}
}

// Hash mod N: removing one of N moves about (N-1)/N of the flows.
func TestModNRemoval(t *testing.T) {
	for _, n := range []int{4, 16, 64} {
		up := make([]int32, n)
		for i := range up {
			up[i] = int32(i)
		}
		before, after := ModN{Up: up}, ModN{Up: slices.Delete(slices.Clone(up), n/2, n/2+1)}
		moved := 0
		for _, h := range testHashes {
			if before.Lookup(h) != after.Lookup(h) {
				moved++
			}
		}
		frac, want := float64(moved)/float64(len(testHashes)), float64(n-1)/float64(n)
		if math.Abs(frac-want) > 0.02 {
			t.Errorf("N=%d: %.4f of the flows moved, want about %.4f", n, frac, want)
		}
	}
}

// The bmv2 selector as PI programs it.
func TestSelector(t *testing.T) {
	s := NewSelector()
	for id := range int32(4) {
		if _, err := s.CreateMember(id, 0); err != nil {
			t.Fatal(err)
		}
	}
	for id := range int32(4) {
		if _, err := s.SetWeight(id, 1); err != nil {
			t.Fatal(err)
		}
	}
	// Unweighted, as written: members in creation (handle) order, which
	// makes it hash mod N.
	if got := s.Lookup(0); !slices.Equal(got, []int32{0, 1, 2, 3}) {
		t.Fatalf("lookup list %v", got)
	}
	// Weight 3 for member 1: two copies, handles 4 and 5.
	if ops, _ := s.SetWeight(1, 3); ops != 4 { // 2 creates, 2 adds
		t.Errorf("weight 1->3: %d operations, want 4", ops)
	}
	if got := s.Lookup(0); !slices.Equal(got, []int32{0, 1, 2, 3, 1, 1}) {
		t.Fatalf("after weight 3: %v", got)
	}
	// Port down: deactivated, not removed; back in place when it is up.
	s.SetActive(2, false)
	if got := s.Lookup(0); !slices.Equal(got, []int32{0, 1, 3, 1, 1}) {
		t.Fatalf("member 2 down: %v", got)
	}
	s.SetActive(2, true)
	if got := s.Lookup(0); !slices.Equal(got, []int32{0, 1, 2, 3, 1, 1}) {
		t.Fatalf("member 2 up: %v", got)
	}
	// Delete member 0 (handle 0) and create member 9: it gets handle 0,
	// the lowest free, and takes member 0's place at the front.
	if _, err := s.DeleteMember(0); err != nil {
		t.Fatal(err)
	}
	s.CreateMember(9, 0)
	s.SetWeight(9, 1)
	if got := s.Lookup(0); !slices.Equal(got, []int32{9, 1, 2, 3, 1, 1}) {
		t.Fatalf("member 9 in member 0's handle: %v", got)
	}
	// Weight 3 -> 1: copies 2 and 1 leave and are deleted (handles 5, 4 freed).
	if ops, _ := s.SetWeight(1, 1); ops != 4 {
		t.Errorf("weight 3->1: %d operations, want 4", ops)
	}
	s.CreateMember(10, 0)
	s.SetWeight(10, 1)
	if got := s.Lookup(0); !slices.Equal(got, []int32{9, 1, 2, 3, 10}) {
		t.Fatalf("member 10 in handle 4: %v", got)
	}
	if _, err := s.CreateMember(10, 0); err == nil {
		t.Error("member created twice")
	}
}
