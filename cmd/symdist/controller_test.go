// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/symdist/symdist/internal/ifswitch"
	"github.com/symdist/symdist/test/testbed"

	"github.com/symdist/symdist/entries"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/swswitch"
)

// countEntries reads every table entry and member the switch holds.
func countEntries(t *testing.T, sw *swswitch.Switch) int {
	n := 0
	for _, e := range entries.Wildcards() {
		if err := sw.Server().Pipeline().Read(e, func(*p4v1.Entity) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// startSoftSwitch serves a software switch (device 1, no ports) on
// loopback gRPC until the test ends.
func startSoftSwitch(t *testing.T) (*swswitch.Switch, string) {
	sw, err := swswitch.Listen(swswitch.Config{DeviceID: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Stop)
	return sw.Switch, sw.Addr()
}

// `symdist controller` with a bad config fails naming the file, line and
// field, before it connects to any switch: a programmed switch keeps its
// state though the bad config's election id would win.
func TestControllerBadConfigTouchesNothing(t *testing.T) {
	sw, addr := startSoftSwitch(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := testbed.Program(ctx, &ifswitch.Switch{Name: "sw", Addr: addr, DeviceID: 1}); err != nil {
		t.Fatal(err)
	}
	before := countEntries(t, sw)

	example, err := os.ReadFile("../../examples/figure3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.NewReplacer(
		"127.0.0.1:9559", addr,
		"election_id: 10", "election_id: 99",
		"    weight: 2\n", "    weight: -1\n",
		"127.0.0.1:9090", "127.0.0.1:0",
	).Replace(string(example))
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = runCmd(t, "controller", "--config", path)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:") || !strings.Contains(err.Error(), "tms[2]") {
		t.Fatalf("controller with a bad config: %v, want an error naming bad.yaml:LINE and tms[2]", err)
	}
	time.Sleep(200 * time.Millisecond)
	if after := countEntries(t, sw); after != before {
		t.Errorf("the switch held %d entries and members, now %d", before, after)
	}
}
