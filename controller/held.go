// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"fmt"
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

// noteInUseLocked records the ports TM tm says it still uses in buckets it
// lost: checked against its config (its SNAT addresses), replacing what it
// said before.
func (c *Controller) noteInUseLocked(tm string, in []adminapi.InUse) error {
	t := c.cfg.TM(tm)
	if t == nil {
		return fmt.Errorf("no TM %q", tm)
	}
	var out []adminapi.InUse
	seen := map[netip.Addr]bool{}
	for _, u := range in {
		a, err := netip.ParseAddr(u.SNAT)
		if err != nil {
			return fmt.Errorf("in_use: SNAT address %q: %v", u.SNAT, err)
		}
		a = a.Unmap()
		if !slices.ContainsFunc(t.SNAT, func(s string) bool { b, err := netip.ParseAddr(s); return err == nil && b.Unmap() == a }) {
			return fmt.Errorf("in_use: %s is not an SNAT address of TM %s", a, tm)
		}
		if seen[a] {
			return fmt.Errorf("in_use: %s twice", a)
		}
		seen[a] = true
		p, err := ports.ParseRanges(u.Ports)
		if err != nil {
			return fmt.Errorf("in_use of %s: %v", a, err)
		}
		if len(p) > 0 {
			slices.Sort(p)
			out = append(out, adminapi.InUse{SNAT: a.String(), Ports: ports.Ranges(p)})
		}
	}
	if c.inUse == nil {
		c.inUse = map[string][]adminapi.InUse{}
	}
	if len(out) == 0 {
		delete(c.inUse, tm)
	} else {
		c.inUse[tm] = out
	}
	return nil
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
		for _, u := range c.inUse[t.Name] {
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
