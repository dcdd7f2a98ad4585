package controller_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/symdist/symdist/config"
)

// benchConfig is 4 groups x 4 TMs x 4096 buckets on two switches.
func benchConfig(b *testing.B, client, server string) *config.Config {
	var s strings.Builder
	fmt.Fprintf(&s, "admin: {listen: \"127.0.0.1:0\"}\nswitches:\n")
	for i, addr := range []string{client, server} {
		fmt.Fprintf(&s, "  - name: sw%d\n    address: %s\n    device_id: %d\n    ports:\n      - {port: 1, role: edge}\n", i, addr, i+1)
		for p := 2; p <= 17; p++ {
			fmt.Fprintf(&s, "      - {port: %d, role: tm}\n", p)
		}
	}
	s.WriteString("groups:\n")
	for g := 1; g <= 4; g++ {
		fmt.Fprintf(&s, "  - {name: g%d, id: %d, default_tm: t%d-1, rules: [{priority: 10, vlan: %d}]}\n", g, g, g, g)
	}
	s.WriteString("tms:\n")
	id := 1
	for g := 1; g <= 4; g++ {
		for t := 1; t <= 4; t++ {
			fmt.Fprintf(&s, "  - {name: t%d-%d, id: %d, group: g%d, ports: {sw0: {port: %d, mac: \"02:00:00:00:00:%02x\"}, sw1: {port: %d, mac: \"02:00:00:00:01:%02x\"}}}\n",
				g, t, id, g, id+1, id, id+1, id)
			id++
		}
	}
	cfg, err := config.Parse("bench.yaml", []byte(s.String()))
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

func waitSync(b *testing.B, what string, cond func() bool) {
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
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
		waitSync(b, "programming", func() bool { return inSync(c) })
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
	waitSync(b, "programming", func() bool { return inSync(c) })
	down := false
	for b.Loop() {
		down = !down
		if err := c.Drain("t1-2", down); err != nil {
			b.Fatal(err)
		}
		waitSync(b, "reprogramming", func() bool { return inSync(c) })
	}
}
