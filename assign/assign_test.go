// SPDX-License-Identifier: Apache-2.0

package assign

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// table spells a table one letter per bucket, "." for "".
func table(t *Table) string {
	var s strings.Builder
	for _, o := range t.Buckets {
		if o == "" {
			s.WriteByte('.')
		} else {
			s.WriteString(o)
		}
	}
	return s.String()
}

// letters is the inverse of table, for one-letter names.
func letters(s string) []string {
	b := make([]string, len(s))
	for i, c := range s {
		if c != '.' {
			b[i] = string(c)
		}
	}
	return b
}

// changed returns the buckets whose owner differs between a and b.
func changed(a, b *Table) []int {
	var d []int
	for i := range a.Buckets {
		if a.Buckets[i] != b.Buckets[i] {
			d = append(d, i)
		}
	}
	return d
}

func up(name string, w int) TM   { return TM{Name: name, Weight: w, Up: true} }
func down(name string, w int) TM { return TM{Name: name, Weight: w} }

// Golden tables: a sequence of lists from New, each table pinned.
func TestGolden(t *testing.T) {
	type step struct {
		tms   []TM
		want  string
		moved []int
	}
	tests := []struct {
		name    string
		buckets int
		steps   []step
	}{
		{"equal weights", 16, []step{
			{[]TM{up("a", 1), up("b", 1), up("c", 1)}, "abcabcabcabcabca", nil},
			// c goes down: its buckets 2, 5, 8, 11, 14 go to a (6 -> 8) and b (5 -> 8).
			{[]TM{up("a", 1), up("b", 1), down("c", 1)}, "abbabaabbabaabba", []int{2, 5, 8, 11, 14}},
			// d is added: it takes 5, from a (8 -> 6, the extra bucket by
			// name) and b (8 -> 5), each giving buckets spread over its own.
			{[]TM{up("a", 1), up("b", 1), down("c", 1), up("d", 1)}, "abdabdabdabaddba", []int{2, 5, 8, 12, 13}},
			// c comes back: it takes 4, from a (6 -> 4), b and d (5 -> 4).
			{[]TM{up("a", 1), up("b", 1), up("c", 1), up("d", 1)}, "abdcbdaccabcddba", []int{3, 7, 8, 11}},
		}},
		{"weights 1 2 1", 16, []step{
			{[]TM{up("a", 1), up("b", 2), up("c", 1)}, "bacbbacbbacbbacb", nil},
			// b gets lighter: it keeps the extra bucket (6 of 8), a and c
			// take one each (4 -> 5).
			{[]TM{up("a", 1), up("b", 1), up("c", 1)}, "bacbaacbbacbcacb", []int{4, 12}},
			// b is left out of the list, so down: a and c take turns.
			{[]TM{up("a", 1), up("c", 1)}, "aaccaacacacacacc", []int{0, 3, 7, 8, 11, 15}},
		}},
		{"no TM up", 8, []step{
			{[]TM{down("a", 1)}, "........", nil},
			{[]TM{up("a", 1)}, "aaaaaaaa", []int{0, 1, 2, 3, 4, 5, 6, 7}},
			{[]TM{up("a", 1), up("b", 3)}, "babbbabb", []int{0, 2, 3, 4, 6, 7}},
			{nil, "........", []int{0, 1, 2, 3, 4, 5, 6, 7}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb, err := New(tt.buckets, tt.steps[0].tms)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.steps {
				var moved []int
				if i > 0 {
					before := tb.Clone()
					if moved, err = tb.Apply(s.tms); err != nil {
						t.Fatal(err)
					}
					if err := CheckMovement(before, tb, tt.steps[i-1].tms, s.tms); err != nil {
						t.Errorf("step %d: %v", i, err)
					}
				}
				if diff := cmp.Diff(s.want, table(tb)); diff != "" {
					t.Errorf("step %d: table (-want +got):\n%s", i, diff)
				}
				if diff := cmp.Diff(s.moved, moved); diff != "" {
					t.Errorf("step %d: moved (-want +got):\n%s", i, diff)
				}
				if err := Check(tb, s.tms); err != nil {
					t.Errorf("step %d: %v", i, err)
				}
			}
		})
	}
}

// A TM's buckets spread over the table: each eighth of it holds its share.
func TestNewSpreads(t *testing.T) {
	tms := []TM{up("a", 1), up("b", 2), up("c", 3), up("d", 7), up("e", 1)}
	tb, err := New(4096, tms)
	if err != nil {
		t.Fatal(err)
	}
	const parts = 8
	for _, tm := range tms {
		share := float64(4096*tm.Weight) / 14 / parts
		for p := range parts {
			n := 0
			for _, o := range tb.Buckets[p*4096/parts : (p+1)*4096/parts] {
				if o == tm.Name {
					n++
				}
			}
			if float64(n) < share-2 || float64(n) > share+2 {
				t.Errorf("%s holds %d buckets of part %d, want %.1f", tm.Name, n, p, share)
			}
		}
	}
}

// The order of the list does not change the table.
func TestOrderIndependent(t *testing.T) {
	tms := []TM{up("x", 3), up("a", 1), down("m", 2), up("k", 2), up("b", 1)}
	rev := slices.Clone(tms)
	slices.Reverse(rev)
	t1, err := New(64, tms)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := New(64, rev)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(t1.Buckets, t2.Buckets); diff != "" {
		t.Fatalf("New (-list +reversed):\n%s", diff)
	}
	next := []TM{up("k", 2), up("m", 2), up("a", 1), up("x", 1)}
	rev = slices.Clone(next)
	slices.Reverse(rev)
	if _, err := t1.Apply(next); err != nil {
		t.Fatal(err)
	}
	if _, err := t2.Apply(rev); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(t1.Buckets, t2.Buckets); diff != "" {
		t.Errorf("Apply (-list +reversed):\n%s", diff)
	}
}

func TestAdopt(t *testing.T) {
	abc := []TM{up("a", 1), up("b", 1), up("c", 1)}
	tests := []struct {
		name    string
		buckets string
		tms     []TM
		want    string
	}{
		// Any table meeting rules 1 and 2 is kept, however it was built.
		{"consistent", "aaaaaabbbbbccccc", abc, "aaaaaabbbbbccccc"},
		{"consistent other ceil", "ccaaaaabbbbbcccc", abc, "ccaaaaabbbbbcccc"},
		// Buckets of an unknown TM, of a down TM, and "" go to those short.
		{"unknown owner", "aaaaaabbbbbcccczz"[:16], abc, "aaaaaabbbbbccccc"},
		{"unknown owners", "zaaaaabbbbbcccyc", abc, "aaaaaabbbbbccccc"},
		{"down owner", "aaaaaabbbbbccccc", []TM{up("a", 1), up("b", 1), down("c", 1)}, "aaaaaabbbbbbabab"},
		{"empty", "................", abc, "abcabcabcabcabca"},
		// A TM over its share gives only its excess, evenly picked.
		{"over share", "aaaaaaaaaaaabbbc", abc, "acabacacabacbbbc"},
		{"no TM up", "aaaaaabbbbbccccc", []TM{down("a", 1)}, "................"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := letters(tt.buckets)
			tb, err := Adopt(before, tt.tms)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, table(tb)); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(letters(tt.buckets), before); diff != "" {
				t.Errorf("Adopt changed its argument (-want +got):\n%s", diff)
			}
			if err := Check(tb, tt.tms); err != nil {
				t.Error(err)
			}
			// What moved is what had to: no bucket that a TM may keep.
			if err := CheckMovement(&Table{Buckets: before}, tb, tt.tms, tt.tms); err != nil {
				t.Error(err)
			}
		})
	}
}

// Adopt of an empty table is New; Adopt of a table from New or Apply keeps
// it, and Apply then goes on as it would have.
func TestAdoptKeeps(t *testing.T) {
	tms := []TM{up("a", 5), up("b", 3), down("c", 1), up("d", 2)}
	nt, err := New(4096, tms)
	if err != nil {
		t.Fatal(err)
	}
	at, err := Adopt(make([]string, 4096), tms)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(nt.Buckets, at.Buckets); diff != "" {
		t.Fatalf("Adopt of an empty table (-New +Adopt):\n%s", diff)
	}
	next := []TM{up("a", 5), up("b", 3), up("c", 1), up("d", 2)}
	if _, err := nt.Apply(next); err != nil {
		t.Fatal(err)
	}
	at, err = Adopt(nt.Buckets, next)
	if err != nil {
		t.Fatal(err)
	}
	if d := changed(nt, at); len(d) > 0 {
		t.Fatalf("Adopt of a consistent table moved buckets %v", d)
	}
	next[0].Up = false
	m1, err := nt.Apply(next)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := at.Apply(next)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m1, m2); diff != "" {
		t.Errorf("moved after Adopt (-kept +adopted):\n%s", diff)
	}
	if diff := cmp.Diff(nt.Buckets, at.Buckets); diff != "" {
		t.Errorf("table after Adopt (-kept +adopted):\n%s", diff)
	}
}

// Adopt with unknown owners moves only their buckets, at any size.
func TestAdoptUnknownOwner(t *testing.T) {
	tms := []TM{up("a", 1), up("b", 2), up("c", 3), up("d", 4)}
	tb, err := New(4096, tms)
	if err != nil {
		t.Fatal(err)
	}
	bad := slices.Clone(tb.Buckets)
	var want []int
	for i := 7; i < len(bad); i += 97 {
		bad[i] = "gone"
		want = append(want, i)
	}
	bad[100] = ""
	want = append(want, 100)
	slices.Sort(want)
	at, err := Adopt(bad, tms)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, changed(&Table{Buckets: bad}, at)); diff != "" {
		t.Errorf("moved (-want +got):\n%s", diff)
	}
	if err := Check(at, tms); err != nil {
		t.Error(err)
	}
}

func TestCounts(t *testing.T) {
	tb, err := New(16, []TM{up("a", 1), up("b", 3), down("c", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"a": 4, "b": 12}, tb.Counts()); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
	c := tb.Clone()
	c.Buckets[0] = "z"
	if tb.Buckets[0] == "z" {
		t.Error("Clone shares the buckets")
	}
}

func TestErrors(t *testing.T) {
	ok := []TM{up("a", 1)}
	tests := []struct {
		name    string
		buckets int
		tms     []TM
		want    string
	}{
		{"zero buckets", 0, ok, "not a power of two"},
		{"not a power of two", 48, ok, "not a power of two"},
		{"too many buckets", 1 << 25, ok, "not a power of two"},
		{"empty name", 16, []TM{up("", 1)}, "empty name"},
		{"duplicate", 16, []TM{up("a", 1), down("a", 2)}, `"a" listed twice`},
		{"weight 0", 16, []TM{up("a", 0)}, "weight 0"},
		{"weight negative", 16, []TM{down("a", -1)}, "weight -1"},
		{"weight too big", 16, []TM{up("a", MaxWeight+1)}, "weight"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: error %v, want one containing %q", what, err, tt.want)
				}
			}
			_, err := New(tt.buckets, tt.tms)
			check("New", err)
			if tt.buckets <= 1<<16 { // not 2^25 strings just to see them refused
				_, err = Adopt(make([]string, tt.buckets), tt.tms)
				check("Adopt", err)
				check("Check", Check(&Table{Buckets: make([]string, tt.buckets)}, tt.tms))
			}
			if tt.buckets == 16 {
				tb, err := New(16, ok)
				if err != nil {
					t.Fatal(err)
				}
				before := tb.Clone()
				_, err = tb.Apply(tt.tms)
				check("Apply", err)
				if diff := cmp.Diff(before, tb, cmp.AllowUnexported(Table{})); diff != "" {
					t.Errorf("failed Apply changed the table (-before +after):\n%s", diff)
				}
			}
		})
	}
	t.Run("table literal", func(t *testing.T) {
		tb := &Table{Buckets: make([]string, 16)}
		if _, err := tb.Apply(ok); err == nil || !strings.Contains(err.Error(), "New or Adopt") {
			t.Errorf("Apply on a literal: error %v, want one naming New or Adopt", err)
		}
	})
}

// Check and CheckMovement catch what they are for.
func TestCheckCatches(t *testing.T) {
	abc := []TM{up("a", 1), up("b", 1), up("c", 1)}
	ab := []TM{up("a", 1), up("b", 1), down("c", 1)}
	abcd := []TM{up("a", 1), up("b", 1), up("c", 1), up("d", 1)}
	checks := []struct {
		name    string
		buckets string
		tms     []TM
		want    string // "" for no error
	}{
		{"good", "abcabcabcabcabca", abc, ""},
		{"down owner", "abcabcabcabcabca", ab, `names "c", which is not an up TM`},
		{"empty bucket", "abcabcabcabcabc.", abc, `names "", which is not an up TM`},
		{"owner without TMs", "a...............", []TM{down("a", 1)}, "no TM is up"},
		{"over share", "aaaaaaabbbbbcccc", abc, `"a" holds 7 buckets, want 5 or 6`},
		{"under share", "aaaaaabbbbbbcccc", abc, `"c" holds 4 buckets, want 5 or 6`},
		{"integer share", "aaaaaaaaabbbbbbb", []TM{up("a", 1), up("b", 1)}, `"a" holds 9 buckets, want 8 or 8`},
	}
	for _, tt := range checks {
		t.Run("Check/"+tt.name, func(t *testing.T) {
			err := Check(&Table{Buckets: letters(tt.buckets)}, tt.tms)
			if got := fmt.Sprint(err); (tt.want == "") != (err == nil) || !strings.Contains(got, tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	moves := []struct {
		name          string
		before, after string
		prev, next    []TM
		want          string
	}{
		{"c down", "abcabcabcabcabca", "abbabaabbabaabba", abc, ab, ""},
		{"c down, a and b swap", "abcabcabcabcabca", "babbabaabbabaabba"[:16], abc, ab, `moved from "a" to "b"`},
		{"c down, a gives to b", "abcabcabcabcabca", "bbbabaabbabaabba", abc, ab, "buckets moved"},
		{"d up", "abcabcabcabcabca", "dbcadcabcdbcabcd", abc, abcd, ""},
		{"d up, a takes", "abcabcabcabcabca", "dbcadcabadbcabcd", abc, abcd, `moved from "c" to "a"`},
		{"a heavier, gives and takes", "abcabcabcabcabca", "baaaacabcabcabca", abc, []TM{up("a", 2), up("b", 1), up("c", 1)}, `"a" gained 3 and lost 1`},
		{"no change", "abcabcabcabcabca", "abcabcabcabcabca", abc, abc, ""},
		{"no change, swap", "abcabcabcabcabca", "bacabcabcabcabca", abc, abc, "moved between unchanged"},
		{"sizes", "abcabcabcabcabca", "abcabcab", abc, abc, "tables of 16 and 8 buckets"},
		{"bad list", "abcabcabcabcabca", "abcabcabcabcabca", abc, []TM{up("a", 0)}, "after: TM"},
	}
	for _, tt := range moves {
		t.Run("CheckMovement/"+tt.name, func(t *testing.T) {
			err := CheckMovement(&Table{Buckets: letters(tt.before)}, &Table{Buckets: letters(tt.after)}, tt.prev, tt.next)
			if got := fmt.Sprint(err); (tt.want == "") != (err == nil) || !strings.Contains(got, tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
