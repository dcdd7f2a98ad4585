// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/symdist/symdist/desired"

	"github.com/symdist/symdist/p4rt"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
)

// The operator's intent (today: which TMs are drained) lives in the
// switches, in the metadata of each TM's l2_forward entry, which every
// P4Runtime target keeps and returns on Read. Whichever controller adopts
// the switches (the same one restarted, or the backup taking over) reads
// the intent back with the bucket table, so a drain lasts as long as the
// switches hold the TM's entries. docs/design.md says why not a file.

// switchIntent is the intent read back from the switches.
type switchIntent struct {
	found   bool            // some switch holds a TM's l2_forward entry
	drained map[string]bool // TMs some switch records as drained
}

// readIntent reads the l2_forward entries of a switch and adds the intent
// they carry to in. A TM counts as drained when any switch says so: an
// undrain cut short by a crash is repeated by the operator, while a drain
// cut short must not put a TM under maintenance back in service.
func (c *Controller) readIntent(ctx context.Context, s *p4rt.Session, cfg *config.Config, in *switchIntent) error {
	es, err := s.Read(ctx, &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: c.builder.IDs.L2Forward.Table}}})
	if err != nil {
		return err
	}
	collectIntent(cfg, es, in)
	return nil
}

// collectIntent adds the intent l2_forward entries carry to in. Metadata
// that is not a symdist intent record of this version, or names a TM the
// config lacks, is ignored.
func collectIntent(cfg *config.Config, es []*p4v1.Entity, in *switchIntent) {
	for _, e := range es {
		md := e.GetTableEntry().GetMetadata()
		if len(md) == 0 {
			in.found = in.found || isTMEntry(cfg, e)
			continue
		}
		var r desired.IntentRecord
		if json.Unmarshal(md, &r) != nil || r.Version != desired.IntentVersion || cfg.TM(r.TM) == nil {
			continue // not ours, or a TM this config no longer has
		}
		in.found = true
		if r.Drained {
			in.drained[r.TM] = true
		}
	}
}

// isTMEntry reports whether an l2_forward entry is some TM's (by MAC).
func isTMEntry(cfg *config.Config, e *p4v1.Entity) bool {
	var mac uint64
	for _, m := range e.GetTableEntry().GetMatch() {
		mac = uintOf(m.GetExact().GetValue())
	}
	for _, tm := range cfg.TMs {
		for _, p := range tm.Ports {
			if uintOf(config.ParseMAC(p.MAC)) == mac {
				return true
			}
		}
	}
	return false
}

func uintOf(b []byte) uint64 {
	var x uint64
	for _, c := range b {
		x = x<<8 | uint64(c)
	}
	return x
}

// adoptIntentLocked takes the intent read from the switches as this
// controller's, when they hold any. A drain or undrain given to this
// controller that not every switch holds yet (given while it reached no
// switch, or cut short by a lost session) wins: it is newer than what the
// switches hold.
func (c *Controller) adoptIntentLocked(in switchIntent) {
	if in.found {
		for i := range c.cfg.TMs {
			name := c.cfg.TMs[i].Name
			if _, edited := c.rt.edited[name]; edited {
				continue
			}
			if c.drained[name] != in.drained[name] {
				c.log.Info("adopted operator intent from the switches", "tm", name, "drained", in.drained[name])
			}
			c.drained[name] = in.drained[name]
			c.metrics.setTMUp(name, c.up(name))
		}
	}
}

// adoptedUp is a TM's health as a bucket table read back from the switches
// tells it: a TM that owns no bucket was down (or drained), and must pass
// rise checks before it gets buckets; one that owns some stays up until
// fall checks fail. A TM without a health check is always up.
func adoptedUp(tm *config.TM, owners []string) bool {
	return tm.Health.Type == "none" || slices.Contains(owners, tm.Name)
}

// ErrBackup is the answer to a drain given to a backup controller: it
// writes nothing, so its intent would be lost when it adopts the
// primary's.
var ErrBackup = errors.New("this controller is a backup (it reaches switches but is primary on none): drain on the primary")

// intentEditableLocked refuses intent changes on a backup. A controller
// that reaches no switch takes them, and they win at its next adoption.
func (c *Controller) intentEditableLocked() error {
	connected, primary := false, false
	for _, sw := range c.switches {
		sw.mu.Lock()
		connected = connected || sw.connected
		primary = primary || sw.primary
		sw.mu.Unlock()
	}
	if connected && !primary {
		return ErrBackup
	}
	return nil
}

// primaryLost is called when a switch stops taking this controller's
// writes: preempted by another controller, or the session ended. When
// another controller may have written meanwhile (we were preempted, or we
// are primary nowhere now) the bucket tables and intent are adopted again
// from the switches before the next write, so a controller that comes
// back never overwrites what the other one did with a stale view.
func (c *Controller) primaryLost(preempted bool) {
	primaryAnywhere := false
	for _, sw := range c.switches {
		sw.mu.Lock()
		primaryAnywhere = primaryAnywhere || sw.primary
		sw.mu.Unlock()
	}
	if preempted || !primaryAnywhere {
		c.mu.Lock()
		c.rt.stale = true
		if preempted {
			c.rt.edited = nil // the other controller's word is newer
		}
		c.mu.Unlock()
	}
}
