// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/symdist/symdist/desired"

	"github.com/symdist/symdist/p4rt"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc"
)

// SetLiveness sets how often the controller probes its switches (tests
// make it faster).
func SetLiveness(c *Controller, interval, timeout time.Duration, fall int) {
	c.liveness = liveness{interval: interval, timeout: timeout, fall: fall}
}

// ReadState reads what the controller manages from a switch over conn,
// without arbitration (Read needs no election id).
func ReadState(ctx context.Context, conn *grpc.ClientConn, deviceID uint64) ([]*p4v1.Entity, error) {
	return readState(ctx, p4rt.NewReader(conn, deviceID))
}

// WantState is what switch swName must hold given the controller's bucket
// tables, which TMs are up and which are drained (the test's truth, not the
// controller's).
func WantState(c *Controller, swName string, up, drained map[string]bool) []*p4v1.Entity {
	c.mu.Lock()
	v := desired.View{Buckets: map[string][]string{}, Up: up, Drained: drained}
	for g, t := range c.tables {
		v.Buckets[g] = slices.Clone(t.Buckets)
	}
	c.mu.Unlock()
	for i := range c.cfg.Switches {
		if c.cfg.Switches[i].Name == swName {
			return desired.Entities(c.cfg, c.builder, &c.cfg.Switches[i], v)
		}
	}
	return nil
}

// Registry is what c serves on /metrics.
func Registry(c *Controller) *prometheus.Registry { return c.metrics.reg }

// SubscribersOf is how many watch streams follow TM tm.
func SubscribersOf(c *Controller, tm string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.ho.subs {
		if s.tm == tm {
			n++
		}
	}
	return n
}
