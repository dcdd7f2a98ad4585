// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"errors"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/symdist/symdist/adminapi"
)

// Split primaries. Each switch elects its primary on its own, so two
// controllers that claim switches with no primary at the same moment (both
// started at once after both stopped, or one back while the other is
// still claiming) can each end up primary of some switches. Each would
// then write its own bucket tables, and a packet and its reply, crossing
// different switches, could reach different TMs.
//
// The pair settles it by rank: a controller primary of some switches
// while a peer is primary of others steps down from every switch of its
// own that the peer reaches, when the peer's configured election_id is
// higher (on a tie, its instance). It ends those sessions and claims
// nothing for splitHold, so that the peer, which claims a switch with no
// primary at once, takes them; it comes back as the peer's backup. The
// peer, the higher, keeps what it holds. A switch the peer does not reach
// is kept: a split the network forces is better than a switch with no
// primary. A controller that is not a known peer (not in controllers, or
// not heard from within splitPeerFresh) is never deferred to.
//
// A split must last splitGrace before anyone steps down, and the peer must
// have answered within splitPeerFresh: when the primary dies, its streams
// end on the switches a few milliseconds apart, and the backup, primary
// of the first switch while the dying one still holds the second, must
// not defer to it. A dead peer stops answering GET /api/pair, so by the
// time the grace is over it is no longer fresh.
//
// resolveSplit runs at every arbitration change and every pairPoll (the
// peer's state arrives by its GET /api/pair).

const (
	// splitHold is how long the lower controller claims nothing after
	// stepping down; the higher claims at once, and if it has not within
	// splitHold, the lower takes its switches back.
	splitHold = 2 * time.Second
	// splitGrace: how long a split lasts before the lower steps down.
	splitGrace = time.Second
	// splitPeerFresh: only a peer heard from this recently is deferred to
	// (three polls).
	splitPeerFresh = 3 * pairPoll
)

var errSplitStepDown = errors.New("stepped down: a peer with a higher election_id is primary of other switches (split primaries)")

// claimHold is how long claims must still wait (p4rt.WithClaimHold).
func (c *Controller) claimHold() time.Duration {
	return time.Until(time.Unix(0, c.claimsHeldUntil.Load()))
}

// pairSwitches is what this controller is to each switch.
func (c *Controller) pairSwitches() []adminapi.PairSwitch {
	var out []adminapi.PairSwitch
	for _, sw := range c.switches {
		sw.mu.Lock()
		out = append(out, adminapi.PairSwitch{Name: sw.cfg.Name, Connected: sw.connected, Primary: sw.primary})
		sw.mu.Unlock()
	}
	return out
}

// outranks reports whether peer p ranks above this controller.
func outranks(p adminapi.Pair, electionID uint64, instance string) bool {
	if p.ElectionID != electionID {
		return p.ElectionID > electionID
	}
	return p.Instance > instance
}

// resolveSplit steps down from the switches this controller is primary of
// when a higher-ranked peer is primary of others and reaches them.
func (c *Controller) resolveSplit() {
	var mine, theirs []string
	stepDown := map[string]func(error){}
	for _, sw := range c.switches {
		sw.mu.Lock()
		switch {
		case sw.primary:
			mine = append(mine, sw.cfg.Name)
			if sw.stepDown != nil {
				stepDown[sw.cfg.Name] = sw.stepDown
			}
		case sw.connected && sw.other:
			theirs = append(theirs, sw.cfg.Name)
		}
		sw.mu.Unlock()
	}
	c.mu.Lock()
	if len(mine) == 0 || len(theirs) == 0 {
		c.pair.splitSince = time.Time{}
		c.mu.Unlock()
		return
	}
	if c.pair.splitSince.IsZero() {
		c.pair.splitSince = time.Now()
	}
	if time.Since(c.pair.splitSince) < splitGrace {
		c.mu.Unlock()
		return
	}
	electionID, instance := c.cfg.ElectionID, c.pair.instance
	peers := map[string]adminapi.Pair{}
	for u, p := range c.pair.peers {
		if time.Since(p.at) <= splitPeerFresh {
			peers[u] = p.pair
		}
	}
	c.mu.Unlock()
	leave, peer := splitLeave(mine, theirs, peers, electionID, instance)
	if len(leave) == 0 {
		c.splitLog.Log(c.log, slog.LevelWarn, "split", "split primaries: primary of some switches while another controller is primary of others; keeping ours (no peer heard from that ranks higher and reaches them: a lower peer steps down, else the network keeps the split)",
			"primary_of", mine, "other_primary_of", theirs)
		return
	}
	c.claimsHeldUntil.Store(time.Now().Add(splitHold).UnixNano())
	c.metrics.splitStepDowns.Inc()
	c.log.Warn("split primaries: a peer with a higher election_id is primary of other switches; stepping down from ours so that it holds them all",
		"peer", peer, "stepping_down_from", leave, "other_primary_of", theirs, "claims_held_for", splitHold)
	for _, name := range leave {
		if step := stepDown[name]; step != nil {
			step(errSplitStepDown)
		}
	}
}

// splitLeave is which of this controller's switches (mine) it leaves to a
// peer: those reached by a fresh peer that outranks it and is primary of a
// switch in theirs. peer names that peer's URL.
func splitLeave(mine, theirs []string, peers map[string]adminapi.Pair, electionID uint64, instance string) (leave []string, peer string) {
	urls := slices.Sorted(maps.Keys(peers))
	for _, u := range urls {
		p := peers[u]
		if !outranks(p, electionID, instance) {
			continue
		}
		holds := false
		var reaches []string
		for _, s := range p.Switches {
			holds = holds || s.Primary && slices.Contains(theirs, s.Name)
			if s.Connected {
				reaches = append(reaches, s.Name)
			}
		}
		if !holds {
			continue
		}
		for _, name := range mine {
			if slices.Contains(reaches, name) && !slices.Contains(leave, name) {
				leave = append(leave, name)
				if peer == "" {
					peer = u
				}
			}
		}
	}
	return leave, peer
}
