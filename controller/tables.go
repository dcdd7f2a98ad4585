// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"slices"

	"github.com/symdist/symdist/desired"

	"github.com/symdist/symdist/assign"
)

// Bucket tables ([]string, owner per bucket) are never written once they
// are set: a change makes a new slice for the group it changes. So the
// target, the switch table, the snapshots of generations, the view a sync
// builds from and the published table can share one slice per group, and
// work that depends on a table can be skipped when the slice is the one it
// was done for. At 16 groups of 65,536 buckets a copy of every table is
// 16 MB and a walk of them a million steps: a TM failure, which changes
// one group, must cost that group only.

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
	if tc, ok := cc[group]; ok && desired.SameTable(tc.table, table) {
		return tc.counts
	}
	counts := map[string]int{}
	for _, o := range table {
		counts[o]++
	}
	cc[group] = tableCounts{table: table, counts: counts}
	return counts
}
