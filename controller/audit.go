// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/symdist/symdist/config"
)

// AuditFunc checks the switches once and returns the number of problems
// found on each switch it could check, by switch name; a switch it could
// not check (unreachable, another program) is left out.
type AuditFunc func(ctx context.Context) map[string]int

// DefaultAuditInterval is how often `symdist controller` audits the
// switches unless told otherwise.
const DefaultAuditInterval = time.Minute

// RunAudit calls audit every interval (the first time after one) until ctx
// ends, and exports its result on /metrics:
//
//	symdist_verify_problems{switch}                     problems found at the last audit that checked the switch
//	symdist_verify_last_success_timestamp_seconds{switch} when the switch was last checked
//
// `symdist controller` runs it with `symdist verify state`'s checks
// (verify.Auditor). Call it once per controller.
func (c *Controller) RunAudit(ctx context.Context, every time.Duration, audit AuditFunc) {
	problems := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "symdist_verify_problems", Help: "Problems the last audit found on the switch (symdist verify state).",
	}, []string{"switch"})
	lastSuccess := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "symdist_verify_last_success_timestamp_seconds", Help: "When the audit last could check the switch (Unix time).",
	}, []string{"switch"})
	c.metrics.reg.MustRegister(problems, lastSuccess)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for name, n := range audit(ctx) {
			problems.WithLabelValues(name).Set(float64(n))
			lastSuccess.WithLabelValues(name).SetToCurrentTime()
		}
	}
}

// View is the controller's intent: each group's bucket table (owner TM
// name per bucket; groups not computed yet are missing) and which TMs take
// traffic.
func (c *Controller) View() (buckets map[string][]string, up map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.viewLocked()
	for g, t := range v.Buckets {
		v.Buckets[g] = slices.Clone(t) // the caller's to change
	}
	return v.Buckets, v.Up
}

// Config is the controller's config.
func (c *Controller) Config() *config.Config { return c.current() }
