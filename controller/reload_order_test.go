// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/symdist/symdist/adminapi"
)

// A SIGHUP reload that has read the file when an apply arrives finishes
// first; the apply then runs and saves its config. The controller ends
// running what its file holds, the newer config, never the older file
// applied over the newer config (issue 21: Reload read the file outside
// the controller's lock).
func TestReloadAndApplyAreSerialized(t *testing.T) {
	c := plannedController(t, twoGroups("tm1:web:1", "tm2:web:1", "tm3:web:2"))
	older := twoGroups("tm1:web:1", "tm2:web:1", "tm3:web:3")
	newer := twoGroups("tm1:web:1", "tm2:web:1", "tm3:web:5")
	path := filepath.Join(t.TempDir(), "symdist.yaml")
	if err := os.WriteFile(path, []byte(older), 0o600); err != nil {
		t.Fatal(err)
	}
	c.SetConfigFile(path)

	applied := make(chan error, 1)
	read := readConfigFile
	t.Cleanup(func() { readConfigFile = read })
	readConfigFile = func(name string) ([]byte, error) {
		data, err := read(name)
		// The apply arrives between the reload's read and its apply.
		go func() {
			_, err := c.ApplyConfig("newer.yaml", []byte(newer))
			applied <- err
		}()
		select {
		case err := <-applied: // it did not wait for the reload
			applied <- err
		case <-time.After(300 * time.Millisecond): // it waits: the reload goes on
		}
		return data, err
	}
	if _, err := c.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if err := <-applied; err != nil {
		t.Fatalf("ApplyConfig: %v", err)
	}

	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(newer, string(file)); diff != "" {
		t.Errorf("the file holds (-newer +file):\n%s", diff)
	}
	weights := map[string]int{}
	for _, tm := range c.current().TMs {
		weights[tm.Name] = tm.Weight
	}
	if diff := cmp.Diff(map[string]int{"tm1": 1, "tm2": 1, "tm3": 5}, weights); diff != "" {
		t.Errorf("running weights (-newer +running):\n%s", diff)
	}
}

// twoSwitches is a config of two distributors, a and b, and group web's
// TMs tm1 and tm2 with a port on each; no switch is reached.
const twoSwitches = `buckets: 64
switches:
  - {name: a, address: "127.0.0.1:1", device_id: 1, ports: [{port: 1, role: edge}, {port: 2, role: tm}, {port: 3, role: tm}]}
  - {name: b, address: "127.0.0.1:2", device_id: 1, ports: [{port: 1, role: edge}, {port: 2, role: tm}, {port: 3, role: tm}]}
groups:
  - {name: web, id: 1, default_tm: tm1, rules: [{priority: 10, ip_version: 4, dst: 10.0.0.100/32}]}
tms:
  - {name: tm1, id: 1, group: web, addresses: [10.0.1.1], ports: {a: {port: 2, mac: "02:00:00:00:01:01"}, b: {port: 2, mac: "02:00:00:00:02:01"}}}
  - {name: tm2, id: 2, group: web, addresses: [10.0.1.2], ports: {a: {port: 3, mac: "02:00:00:00:01:02"}, b: {port: 3, mac: "02:00:00:00:02:02"}}}
`

// A running controller refuses, on plan, apply and reload alike, the
// configs that would break symmetry (issue 21 rows 1, 2 and 15): nothing
// changes, the error names the TM, the switch or address and the field,
// and symdist_config_rejected_total counts each refusal by the way it came.
func TestRunningControllerRefusesAsymmetricConfigs(t *testing.T) {
	for _, tt := range []struct {
		name, old, new, want string
	}{
		{"TM without a port on switch b", `, b: {port: 3, mac: "02:00:00:00:02:02"}}}`, `}}`,
			"tms[1].ports: TM tm2 has no port on switch b"},
		{"TM address is the VIP", "addresses: [10.0.1.2]", "addresses: [10.0.0.100]",
			"tms[1].addresses[0]: 10.0.0.100 of TM tm2 is the dst 10.0.0.100/32 of a rule of group web"},
		{"TM MAC multicast", `b: {port: 3, mac: "02:00:00:00:02:02"}`, `b: {port: 3, mac: "01:00:5e:00:00:01"}`,
			"tms[1].ports.b.mac: MAC 01:00:5e:00:00:01 of TM tm2 on switch b is a multicast address"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := plannedController(t, twoSwitches)
			next := strings.Replace(twoSwitches, tt.old, tt.new, 1)
			if next == twoSwitches {
				t.Fatalf("config lacks %q", tt.old)
			}
			path := filepath.Join(t.TempDir(), "symdist.yaml")
			if err := os.WriteFile(path, []byte(next), 0o600); err != nil {
				t.Fatal(err)
			}
			c.SetConfigFile(path)
			before := c.Status()
			for _, run := range []func() (*adminapi.ConfigPlan, error){
				func() (*adminapi.ConfigPlan, error) { return c.PlanConfig("next.yaml", []byte(next)) },
				func() (*adminapi.ConfigPlan, error) { return c.ApplyConfig("next.yaml", []byte(next)) },
				c.Reload,
			} {
				_, err := run()
				var rej *adminapi.RejectedError
				if !errors.As(err, &rej) || !slices.ContainsFunc(rej.Errors, func(e string) bool { return strings.Contains(e, tt.want) }) {
					t.Errorf("error %v, want a rejection containing %q", err, tt.want)
				}
			}
			if diff := cmp.Diff(before, c.Status()); diff != "" {
				t.Errorf("a refused config changed the controller (-before +after):\n%s", diff)
			}
			want := map[string]float64{"plan": 1, "apply": 1, "reload": 1}
			if diff := cmp.Diff(want, rejectedCounts(t, c)); diff != "" {
				t.Errorf("symdist_config_rejected_total (-want +got):\n%s", diff)
			}
		})
	}
}

// rejectedCounts reads symdist_config_rejected_total by via.
func rejectedCounts(t *testing.T, c *Controller) map[string]float64 {
	mfs, err := c.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "symdist_config_rejected_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "via" {
					got[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return got
}
