// SPDX-License-Identifier: Apache-2.0

// Package backoff spaces out the retries of a failing operation: each wait
// doubles from Min up to Max, and is jittered so that many clients retrying
// one server (controllers, TMs, switches restarting together) do not retry
// in step.
//
// Every retry loop of the controller, its P4Runtime sessions and the TM
// uses it, so none can spin; docs/reliability.md lists them and the tests
// that count their attempts.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is the state of one retry loop. The zero value is not usable:
// set Min and Max. It is not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration // first step and cap; Min > 0, Max >= Min
	step     time.Duration // the next step; 0 means Min
}

// Next returns how long to wait before the next attempt, and doubles the
// step for the one after (up to Max). The wait is the step scaled by a
// random factor in [0.5, 1), so it is never below half of Min and never
// above Max.
func (b *Backoff) Next() time.Duration {
	if b.step < b.Min {
		b.step = b.Min
	}
	step := b.step
	b.step = min(2*b.step, b.Max)
	half := step / 2
	return half + rand.N(step-half)
}

// Reset starts over from Min, after a success.
func (b *Backoff) Reset() { b.step = 0 }

// Wait sleeps for Next(), or until ctx ends (then it returns ctx.Err()).
func (b *Backoff) Wait(ctx context.Context) error {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
