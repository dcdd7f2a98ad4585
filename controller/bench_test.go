// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"testing"
	"time"

	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/test/testbed"
)

// benchConfig is 4 groups x 4 TMs x 4096 buckets on two switches.
func benchConfig(b *testing.B, client, server string) *config.Config {
	return testbed.Grid{Switches: []string{client, server}, TMPorts: 16, Groups: 4, TMsPerGroup: 4}.Config(b)
}

// BenchmarkProgramSoftwareSwitches: a controller programs two fresh
// software switches with 4 groups x 4096 buckets (16,4xx updates each)
// over gRPC. The reported entries/s counts both switches' updates.
func BenchmarkProgramSoftwareSwitches(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		client, server := startSwitch(b, "", 1), startSwitch(b, "", 2)
		cfg := benchConfig(b, client.addr, server.addr)
		b.StartTimer()
		c, stop := runController(b, cfg)
		testbed.Eventually(b, "programming", 60*time.Second, func() bool { return inSync(c) })
		b.StopTimer()
		written := 0
		for _, s := range c.Status().Switches {
			written += s.LastWritten
		}
		b.ReportMetric(float64(written), "updates/op")
		stop()
		client.stop()
		server.stop()
		b.StartTimer()
	}
}

// BenchmarkReprogramOnTMDown: from the controller taking a TM out (what a
// health-check failure does after `fall` failures) to both switches
// holding the new bucket table.
func BenchmarkReprogramOnTMDown(b *testing.B) {
	client, server := startSwitch(b, "", 1), startSwitch(b, "", 2)
	c, _ := runController(b, benchConfig(b, client.addr, server.addr))
	testbed.Eventually(b, "programming", 60*time.Second, func() bool { return inSync(c) })
	down := false
	for b.Loop() {
		down = !down
		if err := c.Drain("t1-2", down); err != nil {
			b.Fatal(err)
		}
		testbed.Eventually(b, "reprogramming", 60*time.Second, func() bool { return inSync(c) })
	}
}
