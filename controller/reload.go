// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/symdist/symdist/adminapi"

	"github.com/symdist/symdist/assign"
	"github.com/symdist/symdist/config"
)

// A running controller takes a new config (SIGHUP, or `symdist config
// apply` through the admin API) and applies only the difference: the
// bucket tables move with assign's minimal-movement guarantees (contract
// section 6), everything else is a diff of the desired state like any
// other sync. config.CheckReload says what needs a restart instead.

func rejected(err error) *adminapi.RejectedError {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	r := &adminapi.RejectedError{}
	for _, e := range errs {
		r.Errors = append(r.Errors, strings.Split(e.Error(), "\n")...)
	}
	return r
}

// SetConfigFile tells the controller the file it was started with:
// Reload reads it again, and a config applied through the admin API is
// saved to it (the one replaced is kept as FILE.prev), so that a restart
// runs what was applied.
func (c *Controller) SetConfigFile(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rt.configPath = path
}

// readConfigFile reads the config file for Reload (tests delay it).
var readConfigFile = os.ReadFile

// Reload reads the controller's config file again and applies it
// (SIGHUP). Reading and applying are one step: no apply runs between
// them, so what is applied is what the file holds.
func (c *Controller) Reload() (*adminapi.ConfigPlan, error) {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	c.mu.Lock()
	file := c.rt.configPath
	c.mu.Unlock()
	if file == "" {
		return nil, errors.New("the controller was started without a config file to reload")
	}
	data, err := readConfigFile(file)
	if err != nil {
		return nil, &adminapi.RejectedError{Errors: []string{err.Error()}}
	}
	p, err := c.reload(file, data, true, false)
	if err == nil {
		c.noteApplied(file, data) // pair.go
		c.notePeers(p)
	}
	return p, err
}

// PlanConfig returns what applying data (a config file called name) would
// change, and changes nothing.
func (c *Controller) PlanConfig(name string, data []byte) (*adminapi.ConfigPlan, error) {
	data = c.pairOwn(data) // pair.go
	return c.reload(name, data, false, false)
}

// ApplyConfig applies data (a config file called name) and saves it to the
// controller's config file, if it has one.
func (c *Controller) ApplyConfig(name string, data []byte) (*adminapi.ConfigPlan, error) {
	data = c.pairOwn(data) // pair.go
	c.reloadMu.Lock()
	p, err := c.reload(name, data, true, true)
	if err == nil {
		c.noteApplied(name, data) // pair.go
	}
	c.reloadMu.Unlock()
	if err == nil {
		c.notePeers(p) // after reloadMu: a peer may be reading this one's config
	}
	return p, err
}

func (c *Controller) reload(name string, data []byte, apply, save bool) (*adminapi.ConfigPlan, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next, err := config.CheckReload(c.cfg, name, data)
	if err != nil {
		via := "plan"
		switch {
		case apply && save:
			via = "apply"
		case apply:
			via = "reload"
		}
		c.metrics.configRejected.WithLabelValues(via).Inc()
		r := rejected(err)
		c.rejectLog.Log(c.log, slog.LevelWarn, via, "config rejected, nothing changed", "via", via, "file", name, "errors", r.Errors)
		return nil, r
	}
	p, tables, err := c.planLocked(next)
	if err != nil || !apply {
		return p, err
	}
	c.applyLocked(next, tables)
	p.Applied = true
	moved := 0
	for _, g := range p.Groups {
		moved += g.Moved
	}
	c.log.Info("config reloaded", "file", name, "groups", len(next.Groups), "tms", len(next.TMs), "buckets_moving", moved)
	if save && c.rt.configPath != "" {
		if err := saveConfig(c.rt.configPath, data); err != nil {
			p.SaveError = err.Error()
			c.log.Error("applied config not saved: a restart runs the old one", "file", c.rt.configPath, "error", err)
		} else {
			p.Saved = c.rt.configPath
		}
	}
	return p, nil
}

// saveConfig replaces path with data atomically, keeping the old file as
// path.prev.
func saveConfig(path string, data []byte) error {
	mode := os.FileMode(0o600) // it may hold the admin token
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	if old, err := os.ReadFile(path); err == nil {
		if err := os.WriteFile(path+".prev", old, mode); err != nil {
			return err
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".symdist-config-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// nextTMsLocked returns a group's TM list under next as it is right after
// the reload (now) and once the new TMs' health checks have passed
// (later). Running TMs keep their health and drain; a new TM without a
// check is up at once, one with a check once the check passes.
func (c *Controller) nextTMsLocked(next *config.Config, group string) (now, later []assign.TM, awaiting map[string]bool) {
	awaiting = map[string]bool{}
	for _, tm := range next.TMsOf(group) {
		var upNow, upLater bool
		if d := c.healthy[tm.Name]; d != nil {
			upNow = (d.up || tm.Health.Type == "none") && !c.drained[tm.Name]
			upLater = upNow
		} else {
			upNow, upLater = tm.Health.Type == "none", true
			awaiting[tm.Name] = !upNow
		}
		now = append(now, assign.TM{Name: tm.Name, Weight: tm.Weight, Up: upNow})
		later = append(later, assign.TM{Name: tm.Name, Weight: tm.Weight, Up: upLater})
	}
	return now, later, awaiting
}

// planLocked computes what next changes, and the bucket tables right
// after applying it (nil when this controller holds none yet).
func (c *Controller) planLocked(next *config.Config) (*adminapi.ConfigPlan, map[string]*assign.Table, error) {
	// A table kept from a time this controller was primary is stale: the
	// primary may have moved buckets since.
	p := &adminapi.ConfigPlan{NoTables: c.tables == nil || c.rt.stale}
	var tables map[string]*assign.Table
	if !p.NoTables {
		tables = map[string]*assign.Table{}
	}
	upNext := map[string]bool{} // the TMs up right after the apply
	for gi := range next.Groups {
		g := &next.Groups[gi]
		gp := adminapi.GroupPlan{Name: g.Name, Buckets: g.Buckets}
		if old := c.cfg.Group(g.Name); old == nil {
			gp.Change = "added"
		} else {
			gp.RulesAdded, gp.RulesRemoved = ruleDiff(old.Rules, g.Rules)
			if old.DefaultTM != g.DefaultTM {
				gp.DefaultTM = old.DefaultTM + " -> " + g.DefaultTM
			}
		}
		now, later, awaiting := c.nextTMsLocked(next, g.Name)
		for _, tm := range now {
			upNext[tm.Name] = tm.Up
		}
		var before, after []string
		if tables != nil {
			var t *assign.Table
			var err error
			if old := c.tables[g.Name]; old != nil {
				before, t = old.Buckets, old.Clone()
				_, err = t.Apply(now)
			} else {
				before = make([]string, g.Buckets)
				t, err = assign.New(g.Buckets, now)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("group %s: %w", g.Name, err)
			}
			tables[g.Name] = t
			final := t
			if !slices.Equal(now, later) {
				final = t.Clone()
				if _, err := final.Apply(later); err != nil {
					return nil, nil, fmt.Errorf("group %s: %w", g.Name, err)
				}
			}
			after = final.Buckets
			gp.Moves, gp.Moved = moves(before, after)
		}
		for _, tm := range next.TMsOf(g.Name) {
			tp := adminapi.TMPlan{Name: tm.Name, Weight: tm.Weight, Changes: tmChanges(c.cfg.TM(tm.Name), tm), AwaitsHealth: awaiting[tm.Name]}
			countTM(&tp, before, after)
			gp.TMs = append(gp.TMs, tp)
		}
		if c.cfg.Group(g.Name) != nil {
			for _, tm := range c.cfg.TMsOf(g.Name) {
				if n := next.TM(tm.Name); n == nil || n.Group != g.Name {
					tp := adminapi.TMPlan{Name: tm.Name, Weight: tm.Weight, Changes: []string{leaving(n)}}
					countTM(&tp, before, after)
					gp.TMs = append(gp.TMs, tp)
				}
			}
		}
		p.Groups = append(p.Groups, gp)
	}
	for gi := range c.cfg.Groups {
		g := &c.cfg.Groups[gi]
		if next.Group(g.Name) != nil {
			continue
		}
		gp := adminapi.GroupPlan{Name: g.Name, Change: "removed", Buckets: g.Buckets}
		var before []string
		if !p.NoTables {
			before = c.tables[g.Name].Buckets
			gp.Moves, gp.Moved = moves(before, make([]string, len(before)))
		}
		for _, tm := range c.cfg.TMsOf(g.Name) {
			tp := adminapi.TMPlan{Name: tm.Name, Weight: tm.Weight, Changes: []string{leaving(next.TM(tm.Name))}}
			countTM(&tp, before, make([]string, len(before)))
			gp.TMs = append(gp.TMs, tp)
		}
		p.Groups = append(p.Groups, gp)
	}
	for _, s := range next.Switches {
		old := c.cfg.Switch(s.Name)
		if !slices.Equal(old.Ports, s.Ports) || !slices.Equal(old.FloodPorts, s.FloodPorts) || !slices.Equal(old.L2, s.L2) {
			p.Switches = append(p.Switches, s.Name)
		}
	}
	now := time.Now()
	for _, tm := range c.cfg.TMs {
		if r, ok := c.reports[tm.Name]; ok && next.TM(tm.Name) == nil && now.Sub(r.at) < adminapi.ReportStale && r.connections > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s is removed with %d connections open through it: they break (drain it first and wait: symdist drain %s --wait)",
				tm.Name, r.connections, tm.Name))
		}
	}
	p.Entries = c.entryChangesLocked(next, tables, upNext)
	return p, tables, nil
}

func leaving(n *config.TM) string {
	if n == nil {
		return "removed"
	}
	return "moved to group " + n.Group
}

// moves counts the buckets that change owner between two tables, by pair.
func moves(before, after []string) ([]adminapi.Move, int) {
	count := map[[2]string]int{}
	total := 0
	for b := range before {
		if before[b] != after[b] {
			count[[2]string{before[b], after[b]}]++
			total++
		}
	}
	var ms []adminapi.Move
	for _, k := range slices.SortedFunc(maps.Keys(count), func(a, b [2]string) int {
		return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1])
	}) {
		ms = append(ms, adminapi.Move{From: k[0], To: k[1], Buckets: count[k]})
	}
	return ms, total
}

// countTM fills a TM's bucket counts from the tables before and after (nil
// when unknown).
func countTM(tp *adminapi.TMPlan, before, after []string) {
	for b := range before {
		was, is := before[b] == tp.Name, after[b] == tp.Name
		tp.Before += b2i(was)
		tp.After += b2i(is)
		tp.Gained += b2i(is && !was)
		tp.Lost += b2i(was && !is)
	}
}

func b2i(x bool) int {
	if x {
		return 1
	}
	return 0
}

// tmChanges describes what changes in a TM's config (old nil: added).
func tmChanges(old, tm *config.TM) []string {
	if old == nil {
		return []string{"added"}
	}
	var ch []string
	if old.Group != tm.Group {
		ch = append(ch, "moved from group "+old.Group)
	}
	if old.Weight != tm.Weight {
		ch = append(ch, fmt.Sprintf("weight %d -> %d", old.Weight, tm.Weight))
	}
	if old.ID != tm.ID {
		ch = append(ch, fmt.Sprintf("id %d -> %d", old.ID, tm.ID))
	}
	if !maps.Equal(old.Ports, tm.Ports) {
		ch = append(ch, "ports")
	}
	if !slices.Equal(old.Addresses, tm.Addresses) || !slices.Equal(old.SNAT, tm.SNAT) {
		ch = append(ch, "addresses")
	}
	if !reflect.DeepEqual(old.Health, tm.Health) {
		ch = append(ch, "health check")
	}
	return ch
}

func ruleString(r config.Rule) string {
	return fmt.Sprintf("priority %d vlan %d ip_version %d src %q dst %q proto %d", r.Priority, r.VLAN, r.IPVersion, r.Src, r.Dst, r.Proto)
}

func ruleDiff(old, next []config.Rule) (added, removed []string) {
	for _, r := range next {
		if !slices.Contains(old, r) {
			added = append(added, ruleString(r))
		}
	}
	for _, r := range old {
		if !slices.Contains(next, r) {
			removed = append(removed, ruleString(r))
		}
	}
	return added, removed
}

// applyLocked makes next the running config with the bucket tables
// planLocked computed, and asks every switch to write the result.
func (c *Controller) applyLocked(next *config.Config, tables map[string]*assign.Table) {
	for i := range next.TMs {
		tm := &next.TMs[i]
		h := tm.Health
		d := c.healthy[tm.Name]
		if d == nil {
			d = &debounce{up: h.Type == "none"}
			c.healthy[tm.Name] = d
		} else if h.Type == "none" {
			d.up = true
		}
		d.rise, d.fall = h.Rise, h.Fall
		if old := c.cfg.TM(tm.Name); old != nil && old.Group != tm.Group {
			c.metrics.tmUp.DeleteLabelValues(tm.Name, old.Group)
		}
		c.metrics.groupOf[tm.Name] = tm.Group
	}
	for _, tm := range c.cfg.TMs {
		if next.TM(tm.Name) == nil {
			delete(c.healthy, tm.Name)
			delete(c.drained, tm.Name)
			c.metrics.tmUp.DeleteLabelValues(tm.Name, tm.Group)
			delete(c.metrics.groupOf, tm.Name)
		}
	}
	if tables == nil && c.tables != nil {
		c.rt.stale = true // adopt under the new config before writing
	}
	if tables != nil {
		for name, t := range tables {
			if old := c.tables[name]; old != nil {
				_, n := moves(old.Buckets, t.Buckets)
				c.metrics.bucketsMoved.WithLabelValues(name).Add(float64(n))
			}
		}
		c.tables = tables
	}
	c.cfg = next
	for i := range next.TMs {
		c.metrics.setTMUp(next.TMs[i].Name, c.up(next.TMs[i].Name))
	}
	c.syncWatchersLocked()
	// The switches follow the new targets through the handover: buckets
	// leaving a live TM wait for its acknowledgement (handover.go).
	if tables != nil {
		for name := range c.tables {
			c.handOverLocked(name)
		}
	}
	c.bumpLocked()
}

// maxConfigBody bounds a config plan or apply request.
const maxConfigBody = 4 << 20

// handleConfig adds the admin API's config routes:
//
//	POST /api/config/plan   {name, config} -> ConfigPlan; nothing changes
//	POST /api/config/apply  {name, config} -> ConfigPlan as applied
//
// A config that fails its checks gets 400 with every error as
// file:line: field: problem.
func (c *Controller) handleConfig(mux *http.ServeMux) {
	serve := func(apply bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var req adminapi.ConfigRequest
			if err := c.readJSONMax(w, r, &req, maxConfigBody); err != nil {
				return // answered: want {"name": FILE, "config": YAML}
			}
			if req.Name == "" {
				req.Name = "config"
			}
			run := c.PlanConfig
			if apply {
				run = c.ApplyConfig
			}
			p, err := run(req.Name, []byte(req.Config))
			var rej *adminapi.RejectedError
			switch {
			case errors.As(err, &rej):
				writeJSON(w, http.StatusBadRequest, map[string]any{"error": "config rejected, nothing changed", "errors": rej.Errors})
			case err != nil:
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			default:
				writeJSON(w, http.StatusOK, p)
			}
		}
	}
	mux.HandleFunc("POST /api/config/plan", serve(false))
	mux.HandleFunc("POST /api/config/apply", serve(true))
}
