// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/symdist/symdist/p4rt"
)

// liveness is how often the controller asks a switch whether it still
// serves, and when it gives up on it. A stream can stay open while the
// switch behind it stopped serving (a switch stopping gracefully that
// waits for its streams, a hung process, a path that drops packets): the
// stream alone would show the switch connected, primary and in sync
// forever. After fall failed probes in a row the controller drops the
// session, shows the switch disconnected and not in sync, and reconnects
// with backoff. A switch that stops answering is noticed within about
// fall x (interval + timeout).
type liveness struct {
	interval time.Duration // between probes, jittered by up to a tenth
	timeout  time.Duration // each probe's deadline
	fall     int           // failed probes in a row that end the session
}

var defaultLiveness = liveness{interval: time.Second, timeout: 2 * time.Second, fall: 2}

// watchLiveness probes sess until ctx ends; it gives up on the session by
// calling drop with the reason. Each round also publishes the session's
// arbitration trouble (a switch nobody can claim) in status and metrics.
func (c *Controller) watchLiveness(ctx context.Context, sw *switchState, sess *p4rt.Session, drop context.CancelCauseFunc) {
	failures := 0
	for {
		jitter := rand.N(c.liveness.interval/10 + 1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.liveness.interval + jitter):
		}
		c.reportClaims(sw, sess)
		pctx, cancel := context.WithTimeout(ctx, c.liveness.timeout)
		err := sess.Alive(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			failures = 0
			continue
		}
		failures++
		c.metrics.livenessFailures.WithLabelValues(sw.cfg.Name).Inc()
		c.log.Warn("switch did not answer the liveness probe", "switch", sw.cfg.Name, "error", err, "failures", failures, "fall", c.liveness.fall)
		if failures >= c.liveness.fall {
			drop(fmt.Errorf("switch stopped answering: %d liveness probes failed, last: %w", failures, err))
			return
		}
	}
}

// errNoHigherID is the status shown for a switch that has seen the highest
// possible election id.
const errNoHigherID = "the switch has seen election id {2^64-1, 2^64-1}: no controller can become primary until it restarts"

// reportClaims shows in status and metrics whether the switch can be
// claimed, and how many claims this session has sent.
func (c *Controller) reportClaims(sw *switchState, sess *p4rt.Session) {
	stuck := sess.Stuck()
	c.metrics.noHigherID.WithLabelValues(sw.cfg.Name).Set(b2f(stuck))
	c.metrics.claims.WithLabelValues(sw.cfg.Name).Set(float64(sess.Claims()))
	sw.mu.Lock()
	defer sw.mu.Unlock()
	switch {
	case stuck:
		sw.lastErr = errNoHigherID
	case sw.lastErr == errNoHigherID:
		sw.lastErr = ""
	}
}
