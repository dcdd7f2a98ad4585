// SPDX-License-Identifier: Apache-2.0

package lab

import (
	"testing"
)

// TestRehearse builds examples/rehearse.yaml (5 TMs in two groups, weights
// 1-3, an IPv4 and an IPv6 VIP) from the config alone and runs the
// end-to-end scenario on it: requests through every VIP with both
// directions of each connection on one TM, a TM killed, the same TM
// joining again, a weight change, a drain and an undrain, with new
// connections opened through every change: none may fail.
func TestRehearse(t *testing.T) {
	for _, c := range []struct{ name, file string }{{"rehearse", "../examples/rehearse.yaml"}, {"figure3", "../examples/figure3.yaml"}} {
		for _, sw := range []string{"soft", "bmv2"} {
			t.Run(c.name+"/"+sw, func(t *testing.T) { rehearse(t, c.file, "r"+c.name[:1]+sw[:1], sw) })
		}
	}
}

// rehearse builds the deployment of file on switch sw and runs the
// scenario on it; every step must pass, the established step included:
// long-lived connections through a join, a weight change, a drain, an
// undrain and a config apply, chained by the TMs, none of which may
// break (without chaining, those whose bucket moves do:
// TestRehearseWithoutChaining).
func rehearse(t *testing.T, file, prefix, sw string) {
	skipUnlessSwitch(t, sw)
	dir, log := testLogs(t, prefix)
	r, err := Rehearse(RehearseOptions{Config: file, Prefix: prefix, Binary: binary, Switch: sw, Dir: dir, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Down()
	sc := r.RunScenario(func(s Step) { t.Log(s) })
	if !sc.Passed() {
		t.Errorf("the rehearsal failed:\n%s(logs in %s)", sc, dir)
	}
	for _, s := range sc.Steps {
		if s.Name == "established" && s.Moved < 20 {
			t.Errorf("only %d long-lived connections had their bucket moved: the established step cannot tell", s.Moved)
		}
	}
}

// establishedStep runs the rehearsal of examples/rehearse.yaml on the
// software switch and returns its established step (for the control run).
func establishedStep(t *testing.T, prefix string, noChain bool) Step {
	t.Helper()
	dir, log := testLogs(t, prefix)
	r, err := Rehearse(RehearseOptions{Config: "../examples/rehearse.yaml", Prefix: prefix, Binary: binary,
		Switch: "soft", Dir: dir, Log: log, NoChain: noChain})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Down()
	sc := r.RunScenario(func(s Step) { t.Log(s) })
	for _, s := range sc.Steps {
		if s.Name == "established" {
			return s
		}
	}
	t.Fatalf("no established step:\n%s", sc)
	return Step{}
}

// With chaining off, the established step must fail: the long-lived
// connections whose bucket moves break (the control run of the step).
func TestRehearseWithoutChaining(t *testing.T) {
	skipUnlessSwitch(t, "soft")
	est := establishedStep(t, "rn", true)
	switch {
	case est.Moved == 0:
		t.Fatalf("no long-lived connection had its bucket moved: the step cannot tell\n%s", est)
	case est.OK() || est.Failed < est.Moved/2:
		t.Errorf("without chaining only %d of the %d long-lived connections whose bucket moved broke:\n%s", est.Failed, est.Moved, est)
	}
}
