// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/symdist/symdist/desired"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/symdist/symdist/adminapi"
)

// The handover keeps self-source ports right while buckets move between
// live TMs (docs/design.md, "Handover"). Per group there are three tables:
//
//   - the target: what assign computed (c.tables);
//   - the switch table: what the switches are told to hold (the view the
//     desired state is built from);
//   - the published table: what subscribers may allocate self ports in.
//
// A bucket moving away from a TM that is healthy and subscribed becomes
// pending: it is published as "" (a loss), and it moves in the switch
// table only when every subscriber of that TM has acknowledged that
// version, the TM is no longer healthy or subscribed, or handover_timeout
// has passed. Every other move (from a failed TM, or one nobody follows)
// goes to the switch table at once. A bucket is published with its owner
// only once every primary switch holds that owner: gains follow the writes.
// All of it is guarded by c.mu.
//
// Tables are never written once set (tables.go): a change makes a new
// table for its group, so the switch table, the snapshots, the views the
// syncs build from and the published tables share one table per group in
// the steady state (the target too: assign changes a copy, reassignLocked)
// and an event costs the groups it changes, not the whole tier.
type handover struct {
	groups   map[string]*groupHandover
	subs     map[string]*subscriber // by id
	snaps    []tableSnap            // switch tables of generations not yet held everywhere
	closing  chan struct{}          // closed when the admin API shuts down
	isClosed bool

	timeouts    *prometheus.CounterVec
	waits       prometheus.Histogram
	subscribers prometheus.Gauge
	versions    *prometheus.GaugeVec
}

type groupHandover struct {
	switchTable []string
	synced      []string           // the switch table every primary holds; nil: not known yet
	pending     map[int]uint64     // bucket -> version of the loss to be acknowledged
	losses      map[uint64]*loss   // by version
	version     uint64             // of the last published table
	published   []string           // that table; nil before the first
	timers      map[uint64]func()  // stop functions of the losses' timeouts
	chains      map[int][]chainRec // bucket -> previous owners, latest first, within chain_window (chain.go)
}

// loss is one published loss: buckets of the TMs in from, waiting for acks.
type loss struct {
	from     map[string]bool
	start    time.Time
	deadline time.Time
}

// tableSnap is the switch tables as of generation gen.
type tableSnap struct {
	gen    uint64
	tables map[string][]string
}

func newHandover(reg *prometheus.Registry) *handover {
	h := &handover{
		groups:  map[string]*groupHandover{},
		subs:    map[string]*subscriber{},
		closing: make(chan struct{}),
		timeouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "symdist_handover_timeouts_total",
			Help: "Losses a TM's subscribers did not acknowledge within handover_timeout; the switches were written anyway.",
		}, []string{"tm"}),
		waits: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "symdist_handover_wait_seconds",
			Help:    "From publishing a loss to releasing its buckets to the switches.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		subscribers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "symdist_watch_subscribers", Help: "Open bucket-table watch streams.",
		}),
		versions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "symdist_table_version", Help: "Version of the last bucket table published to watchers.",
		}, []string{"group"}),
	}
	reg.MustRegister(h.timeouts, h.waits, h.subscribers, h.versions)
	return h
}

// groupLocked returns a group's handover state, starting it from the
// target table (no handover for a group the switches never held).
func (c *Controller) groupLocked(group string) *groupHandover {
	g := c.ho.groups[group]
	if g == nil {
		g = &groupHandover{pending: map[int]uint64{}, losses: map[uint64]*loss{}, timers: map[uint64]func(){}}
		if t := c.tables[group]; t != nil {
			g.switchTable = t.Buckets
		}
		c.ho.groups[group] = g
	}
	return g
}

// adoptTablesLocked starts the switch tables from freshly computed or
// adopted tables. Adopted again (after a reload or a lost primary role),
// the switches hold the adopted table whatever this controller was handing
// over: its pending moves are void. held is what the switches were read
// to hold, per group: where the adopted target differs from it (the config
// changed a weight, or a TM, since the switches were written: a takeover in
// the middle of a change), the moves go through the handover like any
// other, so a TM still allocating in a bucket the target moves is waited
// for (pair.go: also the TMs that followed the old primary).
func (c *Controller) adoptTablesLocked(held map[string][]string) {
	var handOver []string
	for name, t := range c.tables {
		g := c.groupLocked(name)
		h := held[name]
		moving := len(h) == len(t.Buckets) && !slices.Equal(h, t.Buckets)
		if !moving && slices.Equal(g.switchTable, t.Buckets) {
			g.switchTable = t.Buckets // share the target's slice
			continue
		}
		for v, stop := range g.timers {
			stop()
			delete(g.timers, v)
		}
		clear(g.pending)
		clear(g.losses)
		g.switchTable = t.Buckets
		if moving {
			g.switchTable = h
			handOver = append(handOver, name)
		}
	}
	for _, name := range handOver {
		c.handOverLocked(name)
	}
	c.snapshotLocked()
}

// switchTableLocked is the table the switches must hold for a group.
func (c *Controller) switchTableLocked(group string) []string {
	if g := c.ho.groups[group]; g != nil && g.switchTable != nil {
		return g.switchTable
	}
	if t := c.tables[group]; t != nil {
		return t.Buckets
	}
	return nil
}

// bumpLocked starts a new generation of the desired state and asks every
// switch to write it.
func (c *Controller) bumpLocked() {
	c.gen++
	c.genSince[c.gen] = time.Now()
	c.snapshotLocked()
	for _, sw := range c.switches {
		select {
		case sw.kick <- struct{}{}:
		default:
		}
	}
}

func (c *Controller) snapshotLocked() {
	s := tableSnap{gen: c.gen, tables: map[string][]string{}}
	for name, g := range c.ho.groups {
		s.tables[name] = g.switchTable // never written: shared
	}
	if n := len(c.ho.snaps); n > 0 && c.ho.snaps[n-1].gen == s.gen {
		c.ho.snaps[n-1] = s
		return
	}
	c.ho.snaps = append(c.ho.snaps, s)
	if len(c.ho.snaps) > maxSnaps { // no switch syncs: keep the newest
		c.ho.snaps = slices.Delete(c.ho.snaps, 0, len(c.ho.snaps)-maxSnaps)
	}
}

// maxSnaps bounds the switch tables kept while no switch syncs.
const maxSnaps = 256

// liveSubscribedLocked reports whether the controller must wait for tm
// before it moves a bucket away from it: it is healthy (drained or not)
// and someone follows its table.
func (c *Controller) liveSubscribedLocked(tm string) bool {
	h := c.healthy[tm]
	if tm == "" || h == nil || !h.up {
		return false
	}
	if c.expectingLocked(tm) { // it followed the old primary (pair.go)
		return true
	}
	for _, s := range c.ho.subs {
		if s.tm == tm {
			return true
		}
	}
	return false
}

// handOverLocked follows a change of a group's target table: moves that
// need no handover go to the switch table now, the others are published as
// losses first.
func (c *Controller) handOverLocked(group string) {
	t := c.tables[group]
	if t == nil {
		return
	}
	g := c.groupLocked(group)
	var newly []int
	from := map[string]bool{}
	live := map[string]bool{} // liveSubscribedLocked, once per TM
	edit := tableEdit{table: g.switchTable}
	for b, to := range t.Buckets {
		old := g.switchTable[b]
		if old == to {
			delete(g.pending, b) // a move called off
			continue
		}
		if _, ok := g.pending[b]; ok {
			continue // goes to the current target when released
		}
		l, ok := live[old]
		if !ok {
			l = c.liveSubscribedLocked(old)
			live[old] = l
		}
		if !l {
			edit.set(b, to) // from a failed TM, or one nobody follows
			continue
		}
		g.pending[b] = 0
		newly = append(newly, b)
		from[old] = true
		// Published with the loss, so the new owner knows the chain
		// before the switches send it the bucket.
		g.noteChain(b, old, time.Now(), c.cfg.Chain())
	}
	g.noteMoves(g.switchTable, edit.table, time.Now(), c.cfg.Chain())
	g.setSwitchTable(edit.table, t.Buckets)
	c.publishLocked(group)
	if len(newly) > 0 {
		v := g.version
		if g.synced == nil {
			// Nothing published yet (a new primary): the loss goes out
			// with the first table, after the first write.
			v++
		}
		for _, b := range newly {
			g.pending[b] = v
		}
		timeout := c.cfg.Handover()
		if l := g.losses[v]; l != nil {
			maps.Copy(l.from, from)
		} else {
			now := time.Now()
			g.losses[v] = &loss{from: from, start: now, deadline: now.Add(timeout)}
			if timeout > 0 {
				tm := time.AfterFunc(timeout, func() {
					c.mu.Lock()
					defer c.mu.Unlock()
					if c.releaseLocked(group) {
						c.bumpLocked()
					}
				})
				g.timers[v] = func() { tm.Stop() }
			}
		}
		c.log.Info("handover: losses published; switches wait for the TMs' acks",
			"group", group, "version", v, "buckets", len(newly), "tms", sortedKeys(from), "timeout", timeout)
	}
	c.releaseLocked(group)
}

// ackedLocked reports whether tm no longer holds up a loss of version v:
// it is down, nobody follows it any more, or all its subscribers have
// acknowledged v.
func (c *Controller) ackedLocked(tm string, v uint64) bool {
	if h := c.healthy[tm]; h == nil || !h.up {
		return true
	}
	if c.expectingLocked(tm) { // not back from the old primary yet (pair.go)
		return false
	}
	for _, s := range c.ho.subs {
		if s.tm == tm && s.acked < v {
			return false
		}
	}
	return true
}

// releaseLocked moves the pending buckets whose losses are acknowledged or
// timed out into the switch table; it reports whether it moved any.
func (c *Controller) releaseLocked(group string) bool {
	g := c.ho.groups[group]
	t := c.tables[group]
	if g == nil || t == nil || len(g.losses) == 0 {
		return false
	}
	now := time.Now()
	done := map[uint64]map[string]bool{} // version -> TM -> may go
	for v, l := range g.losses {
		done[v] = map[string]bool{}
		expired := !now.Before(l.deadline)
		var late []string
		for tm := range l.from {
			ok := c.ackedLocked(tm, v)
			if !ok && expired {
				late = append(late, tm)
			}
			done[v][tm] = ok || expired
		}
		if len(late) > 0 && l.deadline.After(l.start) { // a timeout of 0 waits for no one
			sort.Strings(late)
			for _, tm := range late {
				c.ho.timeouts.WithLabelValues(tm).Inc()
			}
			c.log.Warn("handover timeout: writing the switches without these TMs' acks",
				"group", group, "version", v, "tms", late, "waited", now.Sub(l.start).Round(time.Millisecond))
		}
	}
	moved := 0
	edit := tableEdit{table: g.switchTable}
	for b, v := range g.pending {
		if done[v][g.switchTable[b]] {
			edit.set(b, t.Buckets[b])
			delete(g.pending, b)
			moved++
		}
	}
	g.noteMoves(g.switchTable, edit.table, time.Now(), c.cfg.Chain())
	g.setSwitchTable(edit.table, t.Buckets)
	left := map[uint64]bool{}
	for _, v := range g.pending {
		left[v] = true
	}
	for v, l := range g.losses {
		if !left[v] {
			c.ho.waits.Observe(now.Sub(l.start).Seconds())
			if stop := g.timers[v]; stop != nil {
				stop()
				delete(g.timers, v)
			}
			delete(g.losses, v)
			c.log.Info("handover: losses acknowledged; writing the switches", "group", group, "version", v,
				"waited", now.Sub(l.start).Round(time.Microsecond))
		}
	}
	return moved > 0
}

// publishSyncedLocked takes note that every primary switch holds
// generation gen and publishes what it gives.
func (c *Controller) publishSyncedLocked(gen uint64) {
	i := -1
	for j, s := range c.ho.snaps {
		if s.gen <= gen {
			i = j
		}
	}
	if i < 0 {
		return
	}
	s := c.ho.snaps[i]
	c.ho.snaps = c.ho.snaps[i:]
	for name, tab := range s.tables {
		if g := c.ho.groups[name]; g != nil && len(tab) == len(g.switchTable) {
			g.synced = tab
			c.publishLocked(name)
		}
	}
}

// publishLocked sends subscribers the group's table when it changed: a
// bucket names its owner when every switch holds that owner and it is
// not pending, else "".
func (c *Controller) publishLocked(group string) {
	g := c.ho.groups[group]
	if g == nil || g.synced == nil {
		return
	}
	tab := g.switchTable // every bucket held and none moving: the common case
	if len(g.pending) > 0 || !desired.SameTable(g.synced, g.switchTable) {
		tab = make([]string, len(g.switchTable))
		for b, owner := range g.switchTable {
			if _, moving := g.pending[b]; !moving && g.synced[b] == owner {
				tab[b] = owner
			}
		}
		if slices.Equal(tab, g.switchTable) {
			tab = g.switchTable // share it rather than keep a copy
		}
	}
	if desired.SameTable(tab, g.published) || slices.Equal(tab, g.published) {
		return
	}
	kind := adminapi.KindGain
	if g.published == nil {
		kind = adminapi.KindInitial
	}
	for b, owner := range g.published {
		if owner != "" && tab[b] != owner {
			kind = adminapi.KindLoss
			break
		}
	}
	g.version++
	g.published = tab
	c.ho.versions.WithLabelValues(group).Set(float64(g.version))
	ev := adminapi.Event{Type: adminapi.EventTable, Group: group, Version: g.version, Kind: kind, Buckets: tab,
		Chains: c.chainsLocked(group, time.Now()), Peers: c.peersLocked(group), Held: c.heldLocked(group)}
	for _, s := range c.ho.subs {
		if s.group == group {
			s.offer(ev)
		}
	}
}

// Published is the version of the group's last published table, and
// whether the handover is settled: no loss waiting for acks, and every
// bucket published with the owner the switches are told to hold.
func (c *Controller) Published(group string) (version uint64, settled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.ho.groups[group]
	if g == nil {
		return 0, false
	}
	return g.version, len(g.pending) == 0 && (desired.SameTable(g.published, g.switchTable) || slices.Equal(g.published, g.switchTable))
}

func sortedKeys(m map[string]bool) []string {
	return slices.Sorted(maps.Keys(m))
}
