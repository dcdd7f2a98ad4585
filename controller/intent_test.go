// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/symdist/symdist/test/testbed"

	"github.com/symdist/symdist/adminapi"

	"github.com/google/go-cmp/cmp"
	"github.com/symdist/symdist/controller"
)

// bucketsOf counts a TM's buckets on both switches (they must agree).
func bucketsOf(t *testing.T, l *lab, tm string) int {
	c, s := owners(t, l.client), owners(t, l.server)
	if !cmp.Equal(c, s) {
		return -1
	}
	n := 0
	for _, o := range c {
		if o == tm {
			n++
		}
	}
	return n
}

func tmStatus(c *controller.Controller, name string) adminapi.TMStatus {
	for _, g := range c.Status().Groups {
		for _, tm := range g.TMs {
			if tm.Name == name {
				return tm
			}
		}
	}
	return adminapi.TMStatus{}
}

// stillDrained checks, for several health-check intervals, that tm2 holds
// no bucket and the controller reports it drained.
func stillDrained(t *testing.T, c *controller.Controller, l *lab) {
	t.Helper()
	for range 10 {
		if n := bucketsOf(t, l, "tm2"); n != 0 {
			t.Fatalf("drained tm2 holds %d buckets", n)
		}
		time.Sleep(30 * time.Millisecond)
	}
	if st := tmStatus(c, "tm2"); !st.Drained {
		t.Fatalf("status of tm2: %+v, want drained", st)
	}
}

// undrainWorks undrains tm2 and checks that it gets its share back, and
// that buckets move only to it.
func undrainWorks(t *testing.T, c *controller.Controller, l *lab) {
	t.Helper()
	before := owners(t, l.client)
	if err := c.Drain("tm2", false); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, "tm2 to get its share back", 10*time.Second, func() bool { return bucketsOf(t, l, "tm2") >= 1365 && inSync(c) })
	for _, m := range movesBetween(before, owners(t, l.client)) {
		if m.To != "tm2" {
			t.Errorf("undrain moved %d buckets %s -> %s", m.Buckets, m.From, m.To)
		}
	}
}

var healthTypes = []struct {
	name   string
	health string
}{
	{"health none", "none"},
	{"health tcp", "tcp"},
}

// Drain, restart the controller: still drained, and nothing written; then
// undrain on the restarted controller works. (Before the intent was kept
// in the switches, a restart lost the drain: with health none the TM came
// back with no bucket for good, with tcp it silently got its share back.)
func TestDrainSurvivesControllerRestart(t *testing.T) {
	for _, ht := range healthTypes {
		t.Run(ht.name, func(t *testing.T) {
			l := newLab(t)
			cfg := l.yaml(10, "", tmSpec{1, 1, ht.health}, tmSpec{2, 1, ht.health}, tmSpec{3, 1, ht.health})
			c, stop := runController(t, l.parse(t, cfg))
			testbed.Eventually(t, "initial programming", 10*time.Second, func() bool { return inSync(c) })
			if err := c.Drain("tm2", true); err != nil {
				t.Fatal(err)
			}
			testbed.Eventually(t, "tm2 drained on both switches", 10*time.Second, func() bool { return bucketsOf(t, l, "tm2") == 0 && inSync(c) })
			table := owners(t, l.client)
			stop()

			c2, _ := runController(t, l.parse(t, cfg))
			testbed.Eventually(t, "restarted controller in sync", 10*time.Second, func() bool { return inSync(c2) })
			stillDrained(t, c2, l)
			if !cmp.Equal(owners(t, l.client), table) {
				t.Error("the bucket table changed across the restart")
			}
			for _, s := range c2.Status().Switches {
				if s.LastWritten != 0 {
					t.Errorf("restarted controller wrote %d updates to %s, want 0", s.LastWritten, s.Name)
				}
			}
			undrainWorks(t, c2, l)
		})
	}
}

// Drain on the primary, kill it: the backup that takes over keeps the TM
// drained, and undrain on it works. A drain given to the backup is refused.
func TestDrainSurvivesFailover(t *testing.T) {
	for _, ht := range healthTypes {
		t.Run(ht.name, func(t *testing.T) {
			l := newLab(t)
			tms := []tmSpec{{1, 1, ht.health}, {2, 1, ht.health}, {3, 1, ht.health}}
			primary, stopPrimary := runController(t, l.parse(t, l.yaml(20, "", tms...)))
			testbed.Eventually(t, "primary in sync", 10*time.Second, func() bool { return inSync(primary) })
			backup, _ := runController(t, l.parse(t, l.yaml(10, "", tms...)))
			testbed.Eventually(t, "backup connected", 10*time.Second, func() bool {
				return !slices.ContainsFunc(backup.Status().Switches, func(s adminapi.SwitchStatus) bool { return !s.Connected })
			})
			if err := backup.Drain("tm1", true); !errors.Is(err, controller.ErrBackup) {
				t.Errorf("drain on the backup: %v, want ErrBackup", err)
			}
			if err := primary.Drain("tm2", true); err != nil {
				t.Fatal(err)
			}
			testbed.Eventually(t, "tm2 drained on both switches", 10*time.Second, func() bool { return bucketsOf(t, l, "tm2") == 0 && inSync(primary) })
			table := owners(t, l.client)
			stopPrimary()

			testbed.Eventually(t, "backup takes over", 10*time.Second, func() bool { return inSync(backup) })
			stillDrained(t, backup, l)
			if !cmp.Equal(owners(t, l.client), table) {
				t.Error("the bucket table changed when the backup took over")
			}
			if st := tmStatus(backup, "tm1"); st.Drained || st.Buckets == 0 {
				t.Errorf("tm1, whose drain the backup refused: %+v", st)
			}
			undrainWorks(t, backup, l)
		})
	}
}

// A controller that lost the primary role and gets it back adopts what
// the other controller did meanwhile instead of writing its stale view:
// A drains tm2; B (higher election id) takes over and undrains it; B
// goes away, A is primary again and must not drain tm2 again.
func TestReturningPrimaryAdoptsTheOthersIntent(t *testing.T) {
	l := newLab(t)
	tms := []tmSpec{{1, 1, "none"}, {2, 1, "none"}, {3, 1, "none"}}
	a, _ := runController(t, l.parse(t, l.yaml(20, "", tms...)))
	testbed.Eventually(t, "A in sync", 10*time.Second, func() bool { return inSync(a) })
	if err := a.Drain("tm2", true); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, "tm2 drained", 10*time.Second, func() bool { return bucketsOf(t, l, "tm2") == 0 && inSync(a) })

	b, stopB := runController(t, l.parse(t, l.yaml(30, "", tms...)))
	testbed.Eventually(t, "B takes over", 10*time.Second, func() bool { return inSync(b) })
	stillDrained(t, b, l)
	if err := b.Drain("tm2", false); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, "tm2 back", 10*time.Second, func() bool { return bucketsOf(t, l, "tm2") >= 1365 && inSync(b) })
	table := owners(t, l.client)
	stopB()

	testbed.Eventually(t, "A primary again", 10*time.Second, func() bool { return inSync(a) })
	for range 10 {
		if n := bucketsOf(t, l, "tm2"); n < 1365 {
			t.Fatalf("A came back and tm2 holds %d buckets: A wrote its stale drain", n)
		}
		time.Sleep(30 * time.Millisecond)
	}
	if st := tmStatus(a, "tm2"); st.Drained {
		t.Error("A shows tm2 drained")
	}
	if !cmp.Equal(owners(t, l.client), table) {
		t.Error("the bucket table changed when A came back")
	}
}
