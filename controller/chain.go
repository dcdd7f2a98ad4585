// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"maps"
	"slices"
	"time"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/desired"
)

// Chaining (docs/tmapi.md, "Chaining"): for chain_window after a bucket
// moves in the switch table, the controller remembers its previous owner
// and publishes it beside the table, so that the new owner can hand the
// packets of connections it does not know to the TM that holds them. The
// distributors keep no per-flow state; the TMs' own connection tables
// decide what is chained.

// chainRec is one previous owner of a bucket and when its chain ends.
type chainRec struct {
	previous string
	at       time.Time // when the bucket left previous
	until    time.Time
}

// MaxPrevious bounds the previous owners a bucket remembers: a bucket
// that moved more often within the window chains to its latest ones.
const MaxPrevious = 4

// noteMoves records a chain for every bucket whose owner differs between
// the switch tables from and to. A bucket that had no owner ("") has
// nobody to chain to.
func (g *groupHandover) noteMoves(from, to []string, now time.Time, window time.Duration) {
	if window <= 0 || desired.SameTable(from, to) || len(from) != len(to) {
		return
	}
	for b, owner := range to {
		if old := from[b]; old != owner {
			g.noteChain(b, old, now, window)
		}
	}
}

// noteChain records that bucket b leaves previous: it becomes the
// bucket's latest previous owner, ahead of those before it.
func (g *groupHandover) noteChain(b int, previous string, now time.Time, window time.Duration) {
	if window <= 0 || previous == "" {
		return
	}
	if g.chains == nil {
		g.chains = map[int][]chainRec{}
	}
	recs := []chainRec{{previous: previous, at: now, until: now.Add(window)}}
	for _, r := range g.chains[b] {
		if r.previous != previous && len(recs) < MaxPrevious {
			recs = append(recs, r)
		}
	}
	g.chains[b] = recs
}

// chainsLocked is what a TM of group may chain now: every recorded move
// whose window has not passed and whose previous owner is healthy (drained
// or not: a drained TM still serves what it holds). A previous owner that
// owns the bucket again stays listed: while the bucket moves back to it,
// the TM the switches still send it to chains its connections there; the
// agents never chain to themselves. A bucket still pending (its loss not
// yet acknowledged) is published with its chain. Expired records go.
func (c *Controller) chainsLocked(group string, now time.Time) []adminapi.Chain {
	g := c.ho.groups[group]
	if g == nil || len(g.chains) == 0 {
		return nil
	}
	var out []adminapi.Chain
	for _, b := range slices.Sorted(maps.Keys(g.chains)) {
		live := g.chains[b][:0]
		for _, r := range g.chains[b] {
			left := r.until.Sub(now)
			if left <= 0 && c.drainingLocked(r.previous, now) && now.Sub(r.at) < config.MaxChainWindow {
				// A drained TM that still reports connections keeps its
				// chains until they end (up to MaxChainWindow).
				r.until = now.Add(adminapi.ReportStale)
				left = r.until.Sub(now)
			}
			if left <= 0 {
				continue
			}
			live = append(live, r)
			h := c.healthy[r.previous]
			if h == nil || !h.up || c.cfg.TM(r.previous) == nil {
				continue
			}
			out = append(out, adminapi.Chain{Bucket: b, Previous: r.previous, LeftMS: left.Milliseconds()})
		}
		if len(live) == 0 {
			delete(g.chains, b)
		} else {
			g.chains[b] = live
		}
	}
	return out
}

// peersLocked is every TM of group with its MAC on each switch: where a
// chained frame goes.
func (c *Controller) peersLocked(group string) []adminapi.Peer {
	var out []adminapi.Peer
	for _, tm := range c.cfg.TMsOf(group) {
		p := adminapi.Peer{TM: tm.Name, MACs: map[string]string{}}
		for sw, port := range tm.Ports {
			p.MACs[sw] = port.MAC
		}
		out = append(out, p)
	}
	return out
}

// Chains is what GET /api/groups/{group}/buckets publishes beside the
// table: the chains in force and the group's TMs.
func (c *Controller) Chains(group string) ([]adminapi.Chain, []adminapi.Peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.chainsLocked(group, time.Now()), c.peersLocked(group)
}

// drainingLocked says whether tm is drained and still reports open
// connections.
func (c *Controller) drainingLocked(tm string, now time.Time) bool {
	r, ok := c.reports[tm]
	return c.drained[tm] && ok && now.Sub(r.at) < adminapi.ReportStale && r.connections > 0
}
