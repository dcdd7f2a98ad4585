// SPDX-License-Identifier: Apache-2.0

package assign

import "fmt"

// Check reports whether t meets rules 1 and 2 of contract section 6 for the
// TM list tms: every bucket names an up TM (all are "" when none is up), and
// every up TM holds the floor or the ceil of its ideal count B*w/W, W the
// sum of the up TMs' weights.
func Check(t *Table, tms []TM) error {
	if err := validate(len(t.Buckets), tms); err != nil {
		return err
	}
	ms, _, owner := members(t.Buckets, nil, sortedTMs(tms))
	for b, i := range owner {
		o := t.Buckets[b]
		switch {
		case len(ms) == 0 && o != "":
			return fmt.Errorf("bucket %d names %q, but no TM is up", b, o)
		case len(ms) > 0 && i < 0:
			return fmt.Errorf("bucket %d names %q, which is not an up TM", b, o)
		}
	}
	for _, m := range ms {
		if m.held < m.floor || m.held > m.ceil() {
			return fmt.Errorf("TM %q holds %d buckets, want %d or %d", m.name, m.held, m.floor, m.ceil())
		}
	}
	return nil
}

// CheckMovement reports whether the change from before (for the TM list
// beforeTMs) to after (for afterTMs) meets rule 3 of contract section 6. The
// TMs the change concerns are those that are new, removed, come up, go down
// or change weight; the others are unchanged, and their ideal counts all
// grow, all shrink or all stay. It checks that:
//   - no bucket moves between two unchanged TMs,
//   - no unchanged TM moves against its ideal (loses buckets when its ideal
//     grows or stays, gains when it shrinks or stays),
//   - no up TM both gains and loses buckets,
//
// except for the fewest moves without which rule 2 cannot hold
// (conflict.go), which are allowed.
func CheckMovement(before, after *Table, beforeTMs, afterTMs []TM) error {
	if len(before.Buckets) != len(after.Buckets) {
		return fmt.Errorf("tables of %d and %d buckets", len(before.Buckets), len(after.Buckets))
	}
	if err := validate(len(before.Buckets), beforeTMs); err != nil {
		return fmt.Errorf("before: %w", err)
	}
	if err := validate(len(after.Buckets), afterTMs); err != nil {
		return fmt.Errorf("after: %w", err)
	}
	ms, dir, _ := members(before.Buckets, sortedTMs(beforeTMs), sortedTMs(afterTMs))
	allowed := plan(len(before.Buckets), ms, dir, false)
	index := make(map[string]int, len(ms))
	for i, m := range ms {
		index[m.name] = i
	}
	unchanged := func(name string) bool {
		i, ok := index[name]
		return ok && ms[i].unchanged
	}
	gained := make([]int, len(ms))
	lost := make([]int, len(ms))
	between := 0
	var first error
	for b, a := range before.Buckets {
		o := after.Buckets[b]
		if o == a {
			continue
		}
		if i, ok := index[a]; ok {
			lost[i]++
		}
		if i, ok := index[o]; ok {
			gained[i]++
		}
		if unchanged(a) && unchanged(o) {
			between++
			if first == nil {
				first = fmt.Errorf("bucket %d moved from %q to %q, which the change does not concern", b, a, o)
			}
		}
	}
	if between > allowed {
		return fmt.Errorf("%d buckets moved between unchanged TMs, %d unavoidable: %w", between, allowed, first)
	}
	against := 0
	first = nil
	for i, m := range ms {
		if gained[i] > 0 && lost[i] > 0 {
			return fmt.Errorf("TM %q gained %d and lost %d buckets", m.name, gained[i], lost[i])
		}
		if !m.unchanged {
			continue
		}
		n := 0
		if dir != shrink {
			n += lost[i]
		}
		if dir != grow {
			n += gained[i]
		}
		if n > 0 && first == nil {
			first = fmt.Errorf("TM %q, unchanged, gained %d and lost %d buckets while its ideal count %s",
				m.name, gained[i], lost[i], dir)
		}
		against += n
	}
	if against > allowed {
		return fmt.Errorf("%d buckets moved against the ideal of unchanged TMs, %d unavoidable: %w", against, allowed, first)
	}
	return nil
}

func (d direction) String() string {
	switch d {
	case grow:
		return "grew"
	case shrink:
		return "shrank"
	}
	return "stayed"
}
