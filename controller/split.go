// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"errors"
	"math/rand/v2"
	"time"
)

// Split primaries. Each switch elects its primary on its own, so two
// controllers that claim switches with no primary at the same moment (both
// started at once after both stopped, or a peer back while the other is
// still claiming) can each end up primary of some switches: each would
// then write its own bucket tables, and a packet and its reply, crossing
// different switches, could reach different TMs.
//
// A controller that finds itself primary of some switches while another
// controller is primary of others (ALREADY_EXISTS) steps down: it ends its
// sessions on the switches it holds and claims nothing for a random
// splitHoldMin..splitHoldMin+splitHoldJitter. The switches it left then
// have no primary; the other controller claims them, and this one comes
// back as its backup on every switch. Both may step down at once; the
// random holds make one of them claim first (and again, if not).

const (
	splitHoldMin    = 300 * time.Millisecond
	splitHoldJitter = 1200 * time.Millisecond
)

var errSplitStepDown = errors.New("stepped down: another controller is primary of other switches (split primaries); claims held so that it takes them all")

// claimHold is how long claims must still wait (p4rt.WithClaimHold).
func (c *Controller) claimHold() time.Duration {
	return time.Until(time.Unix(0, c.claimsHeldUntil.Load()))
}

// resolveSplit steps down from every switch this controller is primary of
// when another controller is primary of one it reaches.
func (c *Controller) resolveSplit() {
	var mine, theirs []string
	var steps []func(error)
	for _, sw := range c.switches {
		sw.mu.Lock()
		switch {
		case sw.primary:
			mine = append(mine, sw.cfg.Name)
			if sw.stepDown != nil {
				steps = append(steps, sw.stepDown)
			}
		case sw.connected && sw.other:
			theirs = append(theirs, sw.cfg.Name)
		}
		sw.mu.Unlock()
	}
	if len(mine) == 0 || len(theirs) == 0 {
		return
	}
	hold := splitHoldMin + rand.N(splitHoldJitter)
	c.claimsHeldUntil.Store(time.Now().Add(hold).UnixNano())
	c.metrics.splitStepDowns.Inc()
	c.log.Warn("split primaries: primary of some switches while another controller is primary of others; stepping down so that one controller holds them all",
		"primary_of", mine, "other_primary_of", theirs, "claims_held_for", hold.Round(time.Millisecond))
	for _, step := range steps {
		step(errSplitStepDown)
	}
}
