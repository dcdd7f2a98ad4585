// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"context"
	"reflect"
	"sync"

	"github.com/symdist/symdist/config"
)

// runtimeState is what changes at run time need besides the view. It is
// guarded by Controller.mu.
type runtimeState struct {
	// Health watchers, one per TM with a check; a reload restarts those
	// whose check changed.
	watchCtx context.Context // nil until Run
	watchWG  *sync.WaitGroup
	watchers map[string]*watcher

	// configPath, when set, is where a config applied through the admin
	// API is saved, so that a restart runs what was applied.
	configPath string

	// stale: another controller may have written the switches since this
	// one adopted them; adopt again before the next write.
	stale bool
	// edited: TMs whose drain the operator changed and that not every
	// switch holds yet, with the generation that carries the change. They
	// win over what the switches say at an adoption (they are newer), and
	// are forgotten once every switch has synced that generation, or when
	// another controller preempts this one (its word is newer still).
	edited map[string]uint64
}

func (rt *runtimeState) noteEdit(tm string, gen uint64) {
	if rt.edited == nil {
		rt.edited = map[string]uint64{}
	}
	rt.edited[tm] = gen
}

// writtenEverywhere forgets the edits that every switch now holds: those
// of generation gen or older.
func (rt *runtimeState) writtenEverywhere(gen uint64) {
	for tm, g := range rt.edited {
		if g <= gen {
			delete(rt.edited, tm)
		}
	}
}

// watcher runs the health check of one TM.
type watcher struct {
	health config.Health
	cancel context.CancelFunc
}

// current returns the running config. Configs are never modified once
// parsed; a reload replaces the pointer under c.mu.
func (c *Controller) current() *config.Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg
}

// startWatchersLocked starts the health checks of the running config; wg
// counts them for Run.
func (c *Controller) startWatchersLocked(ctx context.Context, wg *sync.WaitGroup) {
	c.rt.watchCtx, c.rt.watchWG = ctx, wg
	c.syncWatchersLocked()
}

// syncWatchersLocked makes the running watchers those of c.cfg: it stops
// the checks of removed TMs and restarts those whose settings changed.
func (c *Controller) syncWatchersLocked() {
	if c.rt.watchCtx == nil || c.rt.watchCtx.Err() != nil {
		return // not running: Run starts them from the config it finds
	}
	if c.rt.watchers == nil {
		c.rt.watchers = map[string]*watcher{}
	}
	for name, w := range c.rt.watchers {
		if tm := c.cfg.TM(name); tm == nil || !reflect.DeepEqual(tm.Health, w.health) {
			w.cancel()
			delete(c.rt.watchers, name)
		}
	}
	for i := range c.cfg.TMs {
		tm := &c.cfg.TMs[i]
		if tm.Health.Type == "none" || c.rt.watchers[tm.Name] != nil {
			continue
		}
		ctx, cancel := context.WithCancel(c.rt.watchCtx)
		w := &watcher{health: tm.Health, cancel: cancel}
		c.rt.watchers[tm.Name] = w
		report := func(name string, err error) {
			c.mu.Lock()
			mine := c.rt.watchers[name] == w
			c.mu.Unlock()
			if mine { // not a result of a check a reload replaced
				c.observeHealth(name, err)
			}
		}
		wg := c.rt.watchWG
		wg.Add(1)
		go func() {
			defer wg.Done()
			watch(ctx, tm, report)
		}()
	}
}
