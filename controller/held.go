// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/ports"
)

// Held self ports: a TM that loses a bucket keeps its connections on the
// self ports in it, and the TM that gains the bucket, when it shares the
// SNAT address, must not hand those ports out: the same address and port
// to the same server would be the four-tuple of the first TM's live
// connection, and the server answers the new SYN with a challenge ACK that
// the gainer's stack answers with a reset (which the server takes: it
// carries the live connection's sequence number). The old connection then
// stalls. Observed in the lab: one long-lived connection in about eight
// rehearsals, until this.
//
// The loser says which ports it still uses in its ack of the loss
// (adminapi.Ack.InUse); the controller publishes the gain only after that
// ack, with the ports in the same table event (Event.Held), so the gainer
// never has them free. Reports (every 2 s) keep the list current as the
// connections end.

// A TM may have several subscribers (symdist chain beside symdist ports
// --watch, both acknowledging for it), and only some of them know its
// connections: each ack's in_use is that subscriber's, kept until its next
// ack or the end of its stream, and the held ports of a TM are the union
// of its subscribers' and of its last report. A report, the TM's current
// picture, replaces all of them: otherwise an ack without in_use from a
// subscriber that knows no connections would erase the ports another just
// named, before the gain goes out.

// checkInUseLocked checks the ports TM tm says it still uses in buckets
// it lost against its config (its SNAT addresses) and returns them
// normalized: one entry per address that has ports, sorted.
func (c *Controller) checkInUseLocked(tm string, in []adminapi.InUse) ([]adminapi.InUse, error) {
	t := c.cfg.TM(tm)
	if t == nil {
		return nil, fmt.Errorf("no TM %q", tm)
	}
	var out []adminapi.InUse
	seen := map[netip.Addr]bool{}
	for _, u := range in {
		a, err := netip.ParseAddr(u.SNAT)
		if err != nil {
			return nil, fmt.Errorf("in_use: SNAT address %q: %v", u.SNAT, err)
		}
		a = a.Unmap()
		if !slices.ContainsFunc(t.SNAT, func(s string) bool { b, err := netip.ParseAddr(s); return err == nil && b.Unmap() == a }) {
			return nil, fmt.Errorf("in_use: %s is not an SNAT address of TM %s", a, tm)
		}
		if seen[a] {
			return nil, fmt.Errorf("in_use: %s twice", a)
		}
		seen[a] = true
		p, err := ports.ParseRanges(u.Ports)
		if err != nil {
			return nil, fmt.Errorf("in_use of %s: %v", a, err)
		}
		if len(p) > 0 {
			slices.Sort(p)
			out = append(out, adminapi.InUse{SNAT: a.String(), Ports: ports.Ranges(p)})
		}
	}
	return out, nil
}

// noteInUseLocked records a report's in_use for TM tm: it replaces what
// the TM's report and acks said before.
func (c *Controller) noteInUseLocked(tm string, in []adminapi.InUse) error {
	out, err := c.checkInUseLocked(tm, in)
	if err != nil {
		return err
	}
	if c.inUse == nil {
		c.inUse = map[string][]adminapi.InUse{}
	}
	if len(out) == 0 {
		delete(c.inUse, tm)
	} else {
		c.inUse[tm] = out
	}
	for _, s := range c.ho.subs {
		if s.tm == tm {
			s.inUse = nil
		}
	}
	return nil
}

// inUseOfLocked is the union of what TM tm's report and subscribers say
// it uses.
func (c *Controller) inUseOfLocked(tm string) []adminapi.InUse {
	lists := [][]adminapi.InUse{c.inUse[tm]}
	for _, s := range c.ho.subs {
		if s.tm == tm && len(s.inUse) > 0 {
			lists = append(lists, s.inUse)
		}
	}
	return unionInUse(lists...)
}

// keepInUseLocked keeps the in_use of subscriber s, whose stream ended, as
// its TM's until the TM's next report: a watch that reconnects does not
// drop ports its connections still use.
func (c *Controller) keepInUseLocked(s *subscriber) {
	if len(s.inUse) == 0 {
		return
	}
	if c.inUse == nil {
		c.inUse = map[string][]adminapi.InUse{}
	}
	c.inUse[s.tm] = unionInUse(c.inUse[s.tm], s.inUse)
	s.inUse = nil
}

// unionInUse merges checked in_use lists: one entry per SNAT address,
// addresses and ports sorted.
func unionInUse(lists ...[]adminapi.InUse) []adminapi.InUse {
	by := map[string][]uint16{}
	for _, l := range lists {
		for _, u := range l {
			p, err := ports.ParseRanges(u.Ports)
			if err != nil {
				continue // checked when it came
			}
			by[u.SNAT] = append(by[u.SNAT], p...)
		}
	}
	var out []adminapi.InUse
	for _, a := range slices.Sorted(maps.Keys(by)) {
		p := by[a]
		slices.Sort(p)
		out = append(out, adminapi.InUse{SNAT: a, Ports: ports.Ranges(slices.Compact(p))})
	}
	return out
}

// heldLocked is what a table event of group carries: the ports each of its
// healthy TMs still uses in buckets it lost (a TM that is down holds no
// connection any more).
func (c *Controller) heldLocked(group string) []adminapi.Held {
	var out []adminapi.Held
	for _, t := range c.cfg.TMsOf(group) {
		if h := c.healthy[t.Name]; h == nil || !h.up {
			continue
		}
		for _, u := range c.inUseOfLocked(t.Name) {
			out = append(out, adminapi.Held{TM: t.Name, SNAT: u.SNAT, Ports: u.Ports})
		}
	}
	return out
}

// Held is what GET /api/groups/{group}/buckets publishes as held ports.
func (c *Controller) Held(group string) []adminapi.Held {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heldLocked(group)
}
