// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"testing"
	"time"

	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/test/testbed"
)

// largeConfig is one switch, 16 groups of 65,536 buckets (1,048,576
// bucket entries) and 128 TMs, 8 per group, sharing TM ports 2-5.
func largeConfig(b *testing.B, addr string) *config.Config {
	return testbed.Grid{Switches: []string{addr}, TMPorts: 4, Groups: 16, TMsPerGroup: 8, Buckets: 65536}.Config(b)
}

// BenchmarkTMFailureLarge: at 16 x 65,536 bucket entries on one software
// switch (in this process), one TM taken out and put back in turn (8,192
// buckets move each time), from the controller's decision to the switch
// holding the new table. B/op and allocs/op count the switch's side too.
// The status is polled every 5 ms: each poll takes the controller's lock.
//
//	go test ./controller -run '^$' -bench TMFailureLarge -benchtime 10x -benchmem
func BenchmarkTMFailureLarge(b *testing.B) {
	sw := startSwitch(b, "", 1)
	defer sw.stop()
	c, stop := runController(b, largeConfig(b, sw.addr))
	defer stop()
	waitInSync := func(what string) {
		deadline := time.Now().Add(5 * time.Minute)
		for !inSync(c) {
			if time.Now().After(deadline) {
				b.Fatalf("timed out: %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitInSync("programming 1,048,576 entries")
	b.ReportAllocs()
	down := false
	for b.Loop() {
		down = !down
		if err := c.Drain("t1-1", down); err != nil {
			b.Fatal(err)
		}
		waitInSync("the failure")
	}
}
