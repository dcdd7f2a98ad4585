package controller

import (
	"slices"

	"github.com/symdist/symdist/assign"
	"github.com/symdist/symdist/config"
)

// Bucket tables ([]string, owner per bucket) are never written once they
// are set: a change makes a new slice for the group it changes. So the
// target, the switch table, the snapshots of generations, the view a sync
// builds from and the published table can share one slice per group, and
// work that depends on a table can be skipped when the slice is the one it
// was done for. At 16 groups of 65,536 buckets a copy of every table is
// 16 MB and a walk of them a million steps: a TM failure, which changes
// one group, must cost that group only.

// sameTable reports whether a and b are the same slice (then, tables
// being never written, equal). Both are held by the caller, so the array
// cannot have been freed and reused.
func sameTable[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// applyToCopy is t.Apply on a copy of t's buckets: the old slice may be
// shared as a switch table, a snapshot or a published table.
func applyToCopy(t *assign.Table, tms []assign.TM) ([]int, error) {
	t.Buckets = slices.Clone(t.Buckets)
	return t.Apply(tms)
}

// tableEdit changes a table by copying it at the first change.
type tableEdit struct {
	table  []string
	copied bool
}

func (e *tableEdit) set(b int, owner string) {
	if !e.copied {
		e.table, e.copied = slices.Clone(e.table), true
	}
	e.table[b] = owner
}

// setSwitchTable takes the switch table an edit made. With no bucket
// pending it equals the target, and shares the target's slice.
func (g *groupHandover) setSwitchTable(t, target []string) {
	if len(g.pending) == 0 && slices.Equal(t, target) {
		t = target
	}
	g.switchTable = t
}

// countCache is the buckets per TM of each group's table, counted once
// per table (Status is polled; counting a million owners each time held
// c.mu for tens of milliseconds).
type countCache map[string]tableCounts

type tableCounts struct {
	table  []string
	counts map[string]int
}

// of returns the buckets per owner in table, the table of group.
func (cc countCache) of(group string, table []string) map[string]int {
	if tc, ok := cc[group]; ok && sameTable(tc.table, table) {
		return tc.counts
	}
	counts := map[string]int{}
	for _, o := range table {
		counts[o]++
	}
	cc[group] = tableCounts{table: table, counts: counts}
	return counts
}

// ownersCache is, for one switch, the bucket owners its last sync built per
// group and the table each was built from, so that the next sync rebuilds
// only the groups whose table changed. Only the switch's own loop uses it.
type ownersCache struct {
	cfg    *config.Config // the members depend on the config
	groups map[uint16]cachedOwners
}

type cachedOwners struct {
	from   []string // the group's table
	owners []uint32 // built from it; never written after
}

// groupOwners returns the member per bucket of table on this switch (nil
// when no bucket has one), reusing the owners built before from the same
// table under the same config.
func (oc *ownersCache) groupOwners(cfg *config.Config, id uint16, table []string, members map[string]uint32) []uint32 {
	if oc != nil && oc.cfg == cfg {
		if co, ok := oc.groups[id]; ok && sameTable(co.from, table) {
			return co.owners
		}
	}
	var owners []uint32
	last := -1
	for b, owner := range table {
		if m := members[owner]; m != 0 {
			if owners == nil {
				owners = make([]uint32, len(table))
			}
			owners[b] = m
			last = b
		}
	}
	if last >= 0 {
		owners = owners[:last+1] // as bucketOwners.set leaves it
	}
	if oc != nil {
		if oc.cfg != cfg || oc.groups == nil {
			oc.cfg, oc.groups = cfg, map[uint16]cachedOwners{}
		}
		oc.groups[id] = cachedOwners{from: table, owners: owners}
	}
	return owners
}
