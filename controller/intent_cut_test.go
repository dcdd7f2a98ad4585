// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/symdist/symdist/test/testbed"

	"github.com/symdist/symdist/controller"
)

// An undrain that the controller accepted is not undone when every
// session drops before the switches hold it: the switches still say
// "drained", but no other controller wrote that; this one's word is newer.
// (TestChaos found it: a cut mid-write during an undrain left the TM
// drained for good.)
func TestUndrainSurvivesSessionsLostMidWrite(t *testing.T) {
	l := newLab(t)
	tms := []tmSpec{{1, 1, "none"}, {2, 1, "none"}, {3, 1, "none"}}
	cfg := l.parse(t, l.yaml(20, "", tms...))
	var proxies []*chaosProxy
	for i, sw := range []*testSwitch{l.client, l.server} {
		p := newChaosProxy(t, sw.addr)
		proxies = append(proxies, p)
		cfg.Switches[i].Address = p.addr()
	}
	c, _ := startController(t, cfg, slog.NewTextHandler(io.Discard, nil), func(c *controller.Controller) {
		controller.SetLiveness(c, 100*time.Millisecond, 300*time.Millisecond, 2)
	})
	testbed.Eventually(t, "in sync", 10*time.Second, func() bool { return inSync(c) })
	if err := c.Drain("tm2", true); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, "tm2 drained", 10*time.Second, func() bool { return bucketsOf(t, l, "tm2") == 0 && inSync(c) })

	// The switches hang: the undrain's writes never arrive, and the
	// liveness probe drops both sessions.
	for _, p := range proxies {
		p.freeze()
	}
	if err := c.Drain("tm2", false); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, "both sessions dropped", 10*time.Second, func() bool {
		for _, s := range c.Status().Switches {
			if s.Connected {
				return false
			}
		}
		return true
	})
	for _, p := range proxies {
		p.thaw()
		p.cutAll() // what the frozen connections held is lost
	}
	testbed.Eventually(t, "tm2 back in service", 10*time.Second, func() bool { return bucketsOf(t, l, "tm2") >= 1365 && inSync(c) })
	if st := tmStatus(c, "tm2"); st.Drained {
		t.Errorf("status of tm2: %+v, want not drained", st)
	}
}
