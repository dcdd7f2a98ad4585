// SPDX-License-Identifier: Apache-2.0

// Package controller is the symdist controller: it turns a config into
// switch state on every distributor of a deployment over P4Runtime, and
// keeps it right through TM failures, switch restarts, its own restarts and
// a second controller.
//
// It is the daemon around other packages: p4rt holds the P4Runtime session
// with each switch, desired says what a switch must hold, assign keeps the
// bucket tables, health probes the TMs and adminapi has the admin API's
// types and client. Here, by file:
//
//   - controller.go: the per-switch loops (reconnect with backoff), adopting
//     the bucket tables from the switches, reassigning on health and drain
//     events.
//   - sync.go, bucket_owners.go: the diff against what a switch holds,
//     written make-before-break in four phases.
//   - tables.go: bucket tables are never written once set (copy on write
//     per group), so every table kept shares one slice per group, a sync
//     rebuilds only the groups whose table changed, and a TM failure costs
//     its group, not the tier (docs/performance.md).
//   - health.go: probe results debounced with rise and fall.
//   - liveness.go: a Capabilities probe per switch, so a switch that stops
//     serving with its stream open is reconnected.
//   - intent.go: drains kept in the switches and adopted back, again after
//     losing the primary role.
//   - reload.go, runtime.go: a new config at run time (SIGHUP, the plan and
//     apply calls).
//   - handover.go, watch.go: the handover (docs/design.md) and the watch
//     stream TMs follow (docs/tmapi.md).
//   - pipeline.go: the device config per switch target (package devconfig,
//     docs/hardware.md).
//   - admin.go, adminguard.go: the admin API and its defence against CSRF
//     and DNS rebinding.
//   - metrics.go, counters.go, audit.go: Prometheus metrics, the switch
//     counters read at scrape time, and the periodic audit (RunAudit, with
//     verify.Auditor).
//
// docs/design.md explains the choices; docs/config.md the config.
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/symdist/symdist/adminapi"

	"github.com/symdist/symdist/desired"

	"github.com/symdist/symdist/p4rt"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/assign"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/internal/backoff"
	"github.com/symdist/symdist/internal/limitlog"
	"github.com/symdist/symdist/p4info"
	"google.golang.org/grpc"
)

// Controller programs and watches the switches of one config.
type Controller struct {
	cfg     *config.Config
	log     *slog.Logger
	builder entries.Builder
	ids     *p4info.IDs
	schema  *p4info.Schema // for naming entries to people (config plan)
	metrics *metrics
	// liveness is how the controller notices a switch that stopped
	// serving without closing its stream.
	liveness liveness
	// readRefusals logs a switch's refused Read answers once per switch
	// per minute; every one is counted in symdist_switch_reads_refused_total.
	readRefusals *limitlog.Limiter

	adoptMu sync.Mutex // one adoption at a time
	// reloadMu makes reloads and applies one at a time, each from reading
	// its config to saving it (reload.go), so that a SIGHUP during an
	// apply cannot apply the older file after the newer config. Taken
	// before mu, never while holding it.
	reloadMu sync.Mutex
	// rejectLog logs refused configs at most once a minute per way in
	// (reload, plan, apply); symdist_config_rejected_total counts them all.
	rejectLog *limitlog.Limiter
	// splitLog logs a split this controller keeps once a minute (split.go).
	splitLog *limitlog.Limiter

	mu       sync.Mutex
	tables   map[string]*assign.Table // by group; nil until adopted or computed
	healthy  map[string]*debounce     // health-check state per TM
	drained  map[string]bool
	reports  map[string]tmReport         // what each TM last reported (admin.go)
	inUse    map[string][]adminapi.InUse // self ports each TM still uses in buckets it lost (held.go)
	gen      uint64                      // bumped on every change of the view
	genSince map[uint64]time.Time        // when each pending generation began
	switches []*switchState
	counts   countCache   // buckets per TM of each table, for Status (tables.go)
	rt       runtimeState // reloads, health watchers, adoption of intent
	ho       *handover    // bucket-table watchers and loss handover (handover.go)
	pair     pairState    // the other controller (pair.go)
	// claimsHeldUntil (unix ns): no claim of a switch before then, after
	// stepping down from a split (split.go).
	claimsHeldUntil atomic.Int64

	adminBounds adminBounds    // admin API connection bounds (admin.go)
	refusals    *adminRefusals // admin API refusals (admin.go)
}

// switchState is the controller's knowledge of one switch.
type switchState struct {
	cfg  *config.Switch
	pipe *switchPipeline
	kick chan struct{} // a change to write

	mu        sync.Mutex
	sess      *p4rt.Session
	connected bool
	primary   bool
	other     bool                    // another controller is primary (split.go)
	stepDown  context.CancelCauseFunc // ends the session (split.go)
	syncedGen uint64
	synced    bool // a sync succeeded since the session and role began
	lastSync  time.Time
	lastErr   string
	written   int                 // updates written by the last sync
	syncTook  time.Duration       // the last successful sync, read to written
	entries   int                 // entries held after it (the page shows them)
	owners    desired.OwnersCache // the bucket owners the last sync built (tables.go)

	// held is what the switch holds as of our last successful sync, so a
	// sync after a health event diffs against it instead of reading back
	// every entry. Only the primary writes, so it stays true until the
	// session or the primary role changes, or a write fails; it is dropped
	// then, and at least every fullReadEvery.
	held        []*p4v1.Entity
	heldBuckets desired.BucketOwners // bucket_table, apart from held: see desired.BucketOwners
	heldTime    time.Time
}

// fullReadEvery bounds how long the controller trusts its record of a
// switch's state before reading it back again.
const fullReadEvery = time.Minute

// builder makes the switch's entities: ids, and ports as its pipeline's
// P4Info types them.
func (sw *switchState) builder(ids *p4info.IDs) entries.Builder {
	return entries.Builder{IDs: ids, Ports: sw.pipe.ports}
}

// builderOf is the builder of the switch called name, or the built-in
// pipeline's for a switch the controller does not run.
func (c *Controller) builderOf(name string) entries.Builder {
	for _, sw := range c.switches {
		if sw.cfg.Name == name {
			return sw.builder(c.ids)
		}
	}
	return c.builder
}

// session is the switch's live session, or nil.
func (sw *switchState) session() *p4rt.Session {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.sess
}

func (sw *switchState) forget() {
	sw.mu.Lock()
	sw.held = nil
	sw.mu.Unlock()
}

// New checks that the pipeline resolves and returns a controller for cfg.
func New(cfg *config.Config, log *slog.Logger) (*Controller, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	schema, ids, err := desired.LoadPipeline()
	if err != nil {
		return nil, err
	}
	c := &Controller{
		cfg: cfg, log: log,
		builder:  entries.Builder{IDs: ids},
		ids:      ids,
		schema:   schema,
		healthy:  map[string]*debounce{},
		drained:  map[string]bool{},
		genSince: map[uint64]time.Time{},
		counts:   countCache{},
		metrics:  newMetrics(cfg),
		liveness: defaultLiveness,
		// One line a minute per way in: an admin API client retrying a
		// bad config must not flood the log.
		rejectLog:    limitlog.New(time.Minute),
		splitLog:     limitlog.New(time.Minute),
		readRefusals: limitlog.New(time.Minute),
		pair:         pairState{instance: newInstance()},
	}
	c.ho = newHandover(c.metrics.reg)
	c.metrics.reg.MustRegister(statusCollector{c})
	c.adminBounds = defaultAdminBounds
	c.refusals = newAdminRefusals(c.metrics.reg)
	// A TM starts up, so that nothing moves before the checks have had
	// their say; adopting a table from the switches corrects this.
	for i := range cfg.TMs {
		h := cfg.TMs[i].Health
		c.healthy[cfg.TMs[i].Name] = &debounce{rise: h.Rise, fall: h.Fall, up: true}
	}
	for i := range cfg.Switches {
		pipe, err := newSwitchPipeline(&cfg.Switches[i], schema, ids)
		if err != nil {
			return nil, err
		}
		c.switches = append(c.switches, &switchState{cfg: &cfg.Switches[i], pipe: pipe, kick: make(chan struct{}, 1)})
	}
	return c, nil
}

// Run programs the switches and keeps them right until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	c.pairStartup(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.runPair(ctx)
	}()
	for _, sw := range c.switches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.runSwitch(ctx, sw)
		}()
	}
	c.mu.Lock()
	c.startWatchersLocked(ctx, &wg)
	c.mu.Unlock()
	wg.Wait()
	return nil
}

// up reports whether a TM takes traffic: healthy and not drained.
func (c *Controller) up(name string) bool { return c.healthy[name].up && !c.drained[name] }

func (c *Controller) assignTMs(group string) []assign.TM {
	var tms []assign.TM
	for _, tm := range c.cfg.TMsOf(group) {
		tms = append(tms, assign.TM{Name: tm.Name, Weight: tm.Weight, Up: c.up(tm.Name)})
	}
	return tms
}

// observeHealth takes one health-check result; the TM's state changes
// after rise successes or fall failures in a row.
func (c *Controller) observeHealth(name string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.healthy[name]
	if d == nil { // removed by a reload
		return
	}
	if !d.observe(err == nil) {
		return
	}
	c.log.Info("TM health changed", "tm", name, "up", d.up, "error", err)
	c.metrics.setTMUp(name, c.up(name))
	c.reassignLocked(c.cfg.TM(name).Group)
}

// Drain takes a TM out of service (drain=true) or puts it back.
func (c *Controller) Drain(name string, drain bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := c.cfg.TM(name)
	if tm == nil {
		return fmt.Errorf("no TM %q", name)
	}
	if err := c.intentEditableLocked(); err != nil {
		return err
	}
	c.drained[name] = drain
	c.metrics.setTMUp(name, c.up(name))
	c.log.Info("TM drain changed", "tm", name, "drained", drain)
	before := c.gen
	c.reassignLocked(tm.Group)
	if c.gen == before {
		c.bumpLocked() // the intent is written with the l2_forward entries
	}
	c.rt.noteEdit(name, c.gen)
	return nil
}

// reassignLocked moves the group's buckets after a change of its TMs and
// asks every switch to write the result.
func (c *Controller) reassignLocked(group string) {
	if t := c.tables[group]; t != nil {
		moved, err := applyToCopy(t, c.assignTMs(group))
		if err != nil {
			c.log.Error("bucket assignment failed", "group", group, "error", err)
			return
		}
		c.metrics.bucketsMoved.WithLabelValues(group).Add(float64(len(moved)))
		c.log.Info("buckets moved", "group", group, "moved", len(moved))
	}
	c.handOverLocked(group)
	c.bumpLocked()
}

// viewLocked snapshots what the desired state depends on.
func (c *Controller) viewLocked() desired.View {
	v := desired.View{Buckets: map[string][]string{}, Up: map[string]bool{}, Drained: map[string]bool{}}
	for name := range c.tables {
		v.Buckets[name] = c.switchTableLocked(name) // never written: shared
	}
	for i := range c.cfg.TMs {
		v.Up[c.cfg.TMs[i].Name] = c.up(c.cfg.TMs[i].Name)
		v.Drained[c.cfg.TMs[i].Name] = c.drained[c.cfg.TMs[i].Name]
	}
	return v
}

// Reconnecting to a switch backs off from reconnectMin to reconnectMax; a
// connection that lasted reconnectReset starts over from reconnectMin.
// A failed sync is retried on the same connection after syncRetryMin,
// doubling to syncRetryMax.
const (
	reconnectMin   = 100 * time.Millisecond
	reconnectMax   = 5 * time.Second
	reconnectReset = 10 * time.Second
	syncRetryMin   = 500 * time.Millisecond
	syncRetryMax   = 30 * time.Second
	// openTimeout bounds the wait for the first arbitration answer.
	openTimeout = 10 * time.Second
)

func (c *Controller) runSwitch(ctx context.Context, sw *switchState) {
	wait := backoff.Backoff{Min: reconnectMin, Max: reconnectMax}
	for ctx.Err() == nil {
		start := time.Now()
		c.metrics.connectAttempts.WithLabelValues(sw.cfg.Name).Inc()
		err := c.serveSwitch(ctx, sw)
		sw.mu.Lock()
		wasPrimary := sw.primary
		sw.connected, sw.primary, sw.other, sw.sess, sw.synced, sw.stepDown = false, false, false, nil, false, nil
		if err != nil {
			sw.lastErr = err.Error()
		}
		sw.mu.Unlock()
		c.metrics.setSwitch(sw.cfg.Name, false, false)
		if wasPrimary {
			c.primaryLost(false)
		}
		c.notePairRole()
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > reconnectReset {
			wait.Reset()
		}
		d := wait.Next()
		c.log.Warn("switch connection lost; reconnecting", "switch", sw.cfg.Name, "error", err, "in", d.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
}

// serveSwitch holds one connection to a switch until it drops or stops
// answering.
func (c *Controller) serveSwitch(ctx context.Context, sw *switchState) error {
	opts, err := p4rt.DialOptions(sw.cfg.TLS)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(sw.cfg.Address, opts...)
	if err != nil {
		return err
	}
	defer conn.Close()
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// ended is why the session ended: the stream's error, or the cause
	// with which the controller gave up on it.
	ended := func(err error) error {
		if cause := context.Cause(sctx); cause != nil && ctx.Err() == nil {
			return cause
		}
		return err
	}
	openTimer := time.AfterFunc(openTimeout, func() {
		cancel(fmt.Errorf("no arbitration answer within %v", openTimeout))
	})
	sess, err := p4rt.Open(sctx, conn, sw.cfg.DeviceID, c.current().ElectionID, c.log.With("switch", sw.cfg.Name),
		p4rt.WithClaimHold(c.claimHold))
	openTimer.Stop()
	if err != nil {
		return ended(err)
	}
	defer sess.Close()
	sess.LimitReads(p4rt.NewReadLimits(sw.pipe.info), func(err *p4rt.RefusedError) {
		c.metrics.readsRefused.WithLabelValues(sw.cfg.Name, err.Reason).Inc()
		c.readRefusals.Log(c.log, slog.LevelWarn, sw.cfg.Name, "refusing a switch's Read answer", "switch", sw.cfg.Name, "error", err)
	})
	sw.mu.Lock()
	sw.sess, sw.connected, sw.stepDown = sess, true, cancel
	sw.mu.Unlock()
	c.log.Info("switch connected", "switch", sw.cfg.Name, "address", sw.cfg.Address)
	go c.watchLiveness(sctx, sw, sess, cancel)
	syncRetry := backoff.Backoff{Min: syncRetryMin, Max: syncRetryMax}
	var retry <-chan time.Time
	for {
		primary, changed := sess.Primary()
		sw.mu.Lock()
		preempted := sw.primary && !primary
		if primary != sw.primary {
			c.log.Info("arbitration", "switch", sw.cfg.Name, "primary", primary)
			sw.held = nil // another controller may have written meanwhile
			sw.synced = false
		}
		sw.primary, sw.other = primary, sess.OtherPrimary()
		sw.mu.Unlock()
		if preempted {
			c.primaryLost(true)
		}
		c.resolveSplit()
		if sctx.Err() != nil { // stepped down from a split
			return ended(nil)
		}
		c.notePairRole()
		c.metrics.setSwitch(sw.cfg.Name, true, primary)
		retry = nil
		if primary {
			c.metrics.syncAttempts.WithLabelValues(sw.cfg.Name).Inc()
			if err := c.syncSwitch(sctx, sw, sess); err != nil {
				sw.forget()
				if sctx.Err() != nil {
					return ended(err)
				}
				d := syncRetry.Next()
				c.log.Error("sync failed", "switch", sw.cfg.Name, "error", err, "retry_in", d.Round(time.Millisecond))
				sw.mu.Lock()
				sw.lastErr = err.Error()
				sw.mu.Unlock()
				retry = time.After(d)
			} else {
				syncRetry.Reset()
			}
		}
		select {
		case <-changed:
		case <-sw.kick:
		case <-retry:
		case <-sess.Done():
			return ended(sess.Err())
		case <-sctx.Done():
			return ended(nil)
		}
	}
}

// syncSwitch makes a switch hold exactly the desired state.
func (c *Controller) syncSwitch(ctx context.Context, sw *switchState, sess *p4rt.Session) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := c.ensurePipeline(ctx, sw, sess); err != nil {
		return err
	}
	if err := c.ensureTables(ctx); err != nil {
		return err
	}
	start := time.Now()
	sw.mu.Lock()
	current, curBuckets := sw.held, sw.heldBuckets
	if time.Since(sw.heldTime) > fullReadEvery {
		current = nil
	}
	sw.mu.Unlock()
	if current == nil {
		var err error
		if current, err = readState(ctx, sess); err != nil {
			return err
		}
		current, curBuckets = desired.SplitBuckets(c.builder.IDs, current)
		sw.mu.Lock()
		sw.heldTime = time.Now()
		sw.mu.Unlock()
	}
	read := time.Since(start)
	c.mu.Lock()
	v, gen, cfg := c.viewLocked(), c.gen, c.cfg
	c.mu.Unlock()
	b := sw.builder(c.ids)
	want, wantBuckets := desired.State(cfg, b, cfg.Switch(sw.cfg.Name), v, &sw.owners)
	p := diff(current, want)
	p.addBucketChanges(b, curBuckets, wantBuckets)
	planned := time.Since(start)
	if err := apply(ctx, sess, p); err != nil {
		return err
	}
	if !p.empty() {
		c.log.Info("switch synced", "switch", sw.cfg.Name, "updates", p.size(),
			"read", read.Round(time.Millisecond), "planned", planned.Round(time.Millisecond), "total", time.Since(start).Round(time.Millisecond))
	}
	c.metrics.updatesWritten.WithLabelValues(sw.cfg.Name).Add(float64(p.size()))
	sw.mu.Lock()
	sw.syncedGen, sw.lastSync, sw.lastErr, sw.written, sw.synced = gen, time.Now(), "", p.size(), true
	sw.syncTook, sw.entries = time.Since(start), len(want)+wantBuckets.Count()
	sw.held, sw.heldBuckets = want, wantBuckets
	sw.mu.Unlock()
	c.observeSynced()
	return nil
}

// observeSynced records the reprogramming latency of every generation that
// all connected primaries have now written.
func (c *Controller) observeSynced() {
	minGen, everywhere := ^uint64(0), ^uint64(0)
	for _, sw := range c.switches {
		sw.mu.Lock()
		if sw.primary && sw.syncedGen < minGen {
			minGen = sw.syncedGen
		}
		everywhere = min(everywhere, sw.syncedGen) // a switch out of reach holds an older one
		sw.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rt.writtenEverywhere(everywhere)
	c.publishSyncedLocked(minGen)
	for g, t := range c.genSince {
		if g <= minGen {
			c.metrics.reprogram.Observe(time.Since(t).Seconds())
			delete(c.genSince, g)
		}
	}
}

// ensureTables computes the bucket tables once: adopted from the switches
// when they hold some (so a restarted or newly primary controller moves no
// flow), otherwise fresh.
func (c *Controller) ensureTables(ctx context.Context) error {
	c.adoptMu.Lock()
	defer c.adoptMu.Unlock()
	c.mu.Lock()
	done := c.tables != nil && !c.rt.stale
	cfg := c.cfg
	c.mu.Unlock()
	if done {
		return nil
	}
	found := map[string][]string{} // group -> owners read back
	counts := map[string]int{}
	intent := switchIntent{drained: map[string]bool{}}
	for _, sw := range c.switches {
		sess := sw.session()
		if sess == nil {
			continue
		}
		owners, err := c.readBuckets(ctx, sess, cfg)
		if err == nil {
			err = c.readIntent(ctx, sess, cfg, &intent)
		}
		if err != nil {
			c.log.Warn("cannot read bucket table", "switch", sw.cfg.Name, "error", err)
			continue
		}
		for g, o := range owners {
			n := 0
			for _, name := range o {
				if name != "" {
					n++
				}
			}
			if n > counts[g] {
				found[g], counts[g] = o, n
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg != cfg {
		return errors.New("the config was reloaded while reading the switches; adopting again")
	}
	readopt := c.tables != nil
	c.adoptIntentLocked(intent)
	tables := map[string]*assign.Table{}
	for _, g := range c.cfg.Groups {
		tms := c.assignTMs(g.Name)
		var t *assign.Table
		var err error
		if o := found[g.Name]; o != nil {
			// The table carries the previous controller's view of health:
			// a TM that owns no bucket was down, and must now pass rise
			// checks before it gets buckets; one that owns some stays up
			// until fall checks fail.
			for _, tm := range c.cfg.TMsOf(g.Name) {
				c.healthy[tm.Name].up = adoptedUp(tm, o)
				c.healthy[tm.Name].streak = 0
				c.metrics.setTMUp(tm.Name, c.up(tm.Name))
			}
			tms = c.assignTMs(g.Name)
			t, err = assign.Adopt(o, tms)
			c.log.Info("adopted bucket table from the switches", "group", g.Name, "buckets", counts[g.Name])
		} else if t = c.tables[g.Name]; t != nil {
			// Adopting again, and no switch holds a table: keep ours.
			_, err = applyToCopy(t, tms)
		} else {
			t, err = assign.New(g.Buckets, tms)
			c.log.Info("computed a new bucket table", "group", g.Name)
		}
		if err != nil {
			return fmt.Errorf("group %s: %w", g.Name, err)
		}
		tables[g.Name] = t
	}
	c.tables = tables
	c.rt.stale = false
	c.adoptTablesLocked(found)
	if readopt {
		c.bumpLocked() // the other switches may need the adopted state too
	}
	return nil
}

// readBuckets reads a switch's bucket_table back as owner names per group.
func (c *Controller) readBuckets(ctx context.Context, s *p4rt.Session, cfg *config.Config) (map[string][]string, error) {
	ids := c.builder.IDs.BucketTable
	es, err := s.Read(ctx, &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: ids.Table}}})
	if err != nil {
		return nil, err
	}
	byID := map[uint64]string{}
	for _, tm := range cfg.TMs {
		byID[uint64(tm.ID)] = tm.Name
	}
	groupByID := map[uint64]*config.Group{}
	for i := range cfg.Groups {
		groupByID[uint64(cfg.Groups[i].ID)] = &cfg.Groups[i]
	}
	out := map[string][]string{}
	unknown := map[uint64]int{} // member id -> buckets
	for _, e := range es {
		te := e.GetTableEntry()
		group, bucket := desired.BucketKey(c.builder.IDs, te)
		// Entries of another group or past the group's bucket count are
		// not the table; the sync deletes them.
		g := groupByID[group]
		if g == nil || bucket >= uint64(g.Buckets) {
			continue
		}
		if out[g.Name] == nil {
			out[g.Name] = make([]string, g.Buckets)
		}
		member := uint64(te.GetAction().GetActionProfileMemberId())
		out[g.Name][bucket] = byID[member]
		if byID[member] == "" {
			unknown[member]++
		}
	}
	for member, n := range unknown {
		// Adopting moves these buckets: the primary ran another config.
		c.log.Warn("the switch's bucket table names a TM id this config lacks; apply the same config to every controller",
			"tm_id", member, "buckets", n)
	}
	return out, nil
}

// ErrUnknownGroup is returned for a group the config lacks.
var ErrUnknownGroup = errors.New("no such group")

// Buckets returns a group's bucket table (owner TM name per bucket).
func (c *Controller) Buckets(group string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.Group(group) == nil {
		return nil, ErrUnknownGroup
	}
	if c.tables[group] == nil {
		return nil, errors.New("bucket table not computed yet: no switch reached")
	}
	return slices.Clone(c.switchTableLocked(group)), nil
}
