package controller_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/symdist/symdist/config"
)

// largeConfig is one switch, 16 groups of 65,536 buckets (1,048,576
// bucket entries) and 128 TMs, 8 per group, sharing TM ports 2-5.
func largeConfig(b *testing.B, addr string) *config.Config {
	var s strings.Builder
	fmt.Fprintf(&s, "admin: {listen: \"127.0.0.1:0\"}\nbuckets: 65536\nswitches:\n  - name: sw\n    address: %s\n    device_id: 1\n    ports:\n      - {port: 1, role: edge}\n", addr)
	for p := 2; p <= 5; p++ {
		fmt.Fprintf(&s, "      - {port: %d, role: tm}\n", p)
	}
	s.WriteString("groups:\n")
	for g := 1; g <= 16; g++ {
		fmt.Fprintf(&s, "  - {name: g%d, id: %d, default_tm: t%d-1, rules: [{priority: 10, vlan: %d}]}\n", g, g, g, g)
	}
	s.WriteString("tms:\n")
	for i := range 128 {
		g, k := i%16+1, i/16+1
		fmt.Fprintf(&s, "  - {name: t%d-%d, id: %d, group: g%d, ports: {sw: {port: %d, mac: \"02:00:00:00:%02x:%02x\"}}}\n",
			g, k, i+1, g, 2+i%4, (i+1)>>8, (i+1)&0xff)
	}
	cfg, err := config.Parse("large.yaml", []byte(s.String()))
	if err != nil {
		b.Fatal(err)
	}
	return cfg
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
