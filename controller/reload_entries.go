// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/assign"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/desired"
	"github.com/symdist/symdist/entries"
)

// entryChangesLocked is what applying next changes on each switch, table
// by table: the difference between what the switch must hold now and
// right after the apply, when the groups' tables are tables (nil: not
// known here, and bucket_table is left out) and the TMs in upNext take
// traffic. A plan that only counted moving buckets would hide entries
// deleted outright (issue 21: a TM's bucket entries deleted on one
// switch while "0 buckets move").
func (c *Controller) entryChangesLocked(next *config.Config, tables map[string]*assign.Table, upNext map[string]bool) []adminapi.TableChange {
	before := c.viewLocked()
	after := desired.View{Buckets: map[string][]string{}, Up: upNext, Drained: c.drained}
	if tables == nil {
		before.Buckets = map[string][]string{}
	}
	for name, t := range tables {
		after.Buckets[name] = t.Buckets
	}
	var out []adminapi.TableChange
	for i := range next.Switches {
		sw := &next.Switches[i]
		old := c.cfg.Switch(sw.Name)
		if old == nil { // config.CheckReload refuses a new switch
			continue
		}
		b := c.builderOf(sw.Name)
		oldEs, oldBuckets := desired.State(c.cfg, b, old, before, nil)
		newEs, newBuckets := desired.State(next, b, sw, after, nil)
		changes := map[string]*adminapi.TableChange{}
		table := func(name string) *adminapi.TableChange {
			if changes[name] == nil {
				changes[name] = &adminapi.TableChange{Switch: sw.Name, Table: name}
			}
			return changes[name]
		}
		// deleted counts one deletion; what describes it, called only for
		// the first few.
		deleted := func(t *adminapi.TableChange, what func() string) {
			t.Deleted++
			if len(t.FirstDeleted) < adminapi.MaxListedDeletes {
				t.FirstDeleted = append(t.FirstDeleted, what())
			}
		}
		oldByKey, newByKey := byKey(oldEs), byKey(newEs)
		for _, k := range slices.Sorted(maps.Keys(oldByKey)) {
			e := oldByKey[k]
			switch n, ok := newByKey[k]; {
			case !ok:
				deleted(table(desired.TableName(c.schema, e)), func() string { return desired.Describe(c.schema, e) })
			case entries.Value(n) != entries.Value(e):
				table(desired.TableName(c.schema, e)).Modified++
			}
		}
		for k, e := range newByKey {
			if _, ok := oldByKey[k]; !ok {
				table(desired.TableName(c.schema, e)).Inserted++
			}
		}
		groups := map[uint16]bool{}
		for g := range oldBuckets {
			groups[g] = true
		}
		for g := range newBuckets {
			groups[g] = true
		}
		for _, g := range slices.Sorted(maps.Keys(groups)) {
			o, n := oldBuckets[g], newBuckets[g]
			for b := range max(len(o), len(n)) {
				om, nm := memberAt(o, b), memberAt(n, b)
				switch {
				case om == nm:
				case nm == 0:
					deleted(table("bucket_table"), func() string { return c.describeBucket(g, b, om) })
				case om == 0:
					table("bucket_table").Inserted++
				default:
					table("bucket_table").Modified++
				}
			}
		}
		for _, name := range slices.Sorted(maps.Keys(changes)) {
			out = append(out, *changes[name])
		}
	}
	return out
}

func byKey(es []*p4v1.Entity) map[string]*p4v1.Entity {
	m := make(map[string]*p4v1.Entity, len(es))
	for _, e := range es {
		m[entries.Key(e)] = e
	}
	return m
}

func memberAt(owners []uint32, b int) uint32 {
	if b < len(owners) {
		return owners[b]
	}
	return 0
}

// describeBucket names a bucket entry of the running config for people:
// "group web (id 1) bucket 17 -> tm3 (member 3)".
func (c *Controller) describeBucket(group uint16, bucket int, member uint32) string {
	var b strings.Builder
	fmt.Fprintf(&b, "group %d", group)
	if i := slices.IndexFunc(c.cfg.Groups, func(g config.Group) bool { return g.ID == group }); i >= 0 {
		b.Reset()
		fmt.Fprintf(&b, "group %s (id %d)", c.cfg.Groups[i].Name, group)
	}
	fmt.Fprintf(&b, " bucket %d -> ", bucket)
	if i := slices.IndexFunc(c.cfg.TMs, func(tm config.TM) bool { return uint32(tm.ID) == member }); i >= 0 {
		fmt.Fprintf(&b, "%s (member %d)", c.cfg.TMs[i].Name, member)
	} else {
		fmt.Fprintf(&b, "member %d", member)
	}
	return b.String()
}
