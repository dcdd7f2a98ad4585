// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/symdist/symdist/health"

	"github.com/symdist/symdist/config"
)

// debounce turns probe results into up/down with rise and fall thresholds,
// so that a flapping TM does not flap the bucket table.
type debounce struct {
	rise, fall int
	up         bool
	streak     int // consecutive results disagreeing with up
}

// observe records one result and reports whether the state changed.
func (d *debounce) observe(ok bool) bool {
	if ok == d.up {
		d.streak = 0
		return false
	}
	d.streak++
	need := d.fall
	if ok {
		need = d.rise
	}
	if d.streak < need {
		return false
	}
	d.up, d.streak = ok, 0
	return true
}

// watch checks a TM every interval until ctx ends and reports every result.
// A failing check is not retried sooner: the interval is both floor and
// cap (backing off a down TM would delay its return past rise x interval).
// The first check waits a random part of the interval, so that the checks
// of many TMs are not in step.
func watch(ctx context.Context, tm *config.TM, report func(name string, err error)) {
	if tm.Health.Type == "none" {
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(rand.N(tm.Health.Interval/4 + 1)):
	}
	t := time.NewTicker(tm.Health.Interval)
	defer t.Stop()
	for {
		err := health.Probe(ctx, tm.Health)
		if ctx.Err() != nil {
			return
		}
		report(tm.Name, err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
