// SPDX-License-Identifier: Apache-2.0

package backoff

import (
	"context"
	"testing"
	"time"
)

// Every wait lies in [step/2, step) and the step doubles up to Max; Reset
// starts again from Min.
func TestNextBounds(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	steps := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for round := 0; round < 2; round++ {
		for i, s := range steps {
			step := s * time.Millisecond
			if got := b.Next(); got < step/2 || got >= step {
				t.Fatalf("round %d, wait %d = %v, want in [%v, %v)", round, i, got, step/2, step)
			}
		}
		b.Reset()
	}
}

// The waits are jittered: 100 draws at one step are not all equal.
func TestNextJittered(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 100 {
		b := Backoff{Min: time.Second, Max: time.Second}
		seen[b.Next()] = true
	}
	if len(seen) < 10 {
		t.Errorf("100 waits took only %d distinct values", len(seen))
	}
}

func TestWaitCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := Backoff{Min: time.Hour, Max: time.Hour}
	if err := b.Wait(ctx); err != context.Canceled {
		t.Errorf("Wait = %v, want context.Canceled", err)
	}
}
