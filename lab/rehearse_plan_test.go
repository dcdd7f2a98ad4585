// SPDX-License-Identifier: Apache-2.0

package lab

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/symdist/symdist/config"
)

// What a rehearsal derives from a config without building anything (no
// root needed): the VIPs from the groups' rules, each TM's SNAT address,
// backend, listeners and health port; and the configs it refuses.
func TestRehearsePlan(t *testing.T) {
	type tmPlan struct {
		Name, NS, SNAT, Backend string
		VIPs                    []string
		HTTPPort                int
	}
	for _, c := range []struct {
		name    string
		edit    func(*config.Config)
		vips    []string
		tms     []tmPlan // the first and the last
		wantErr string
	}{{
		name: "as written",
		vips: []string{"10.0.0.100 web", "2001:db8:100::100 web6"},
		tms: []tmPlan{
			{Name: "tm1", NS: "xt1", SNAT: "10.3.0.1", Backend: "203.0.113.10:8080", VIPs: []string{"10.0.0.100:80"}, HTTPPort: 8081},
			{Name: "tm5", NS: "xt5", SNAT: "2001:db8:300::1", Backend: "[2001:db8:5::10]:8080", VIPs: []string{"[2001:db8:100::100]:80"}, HTTPPort: 8081},
		},
	}, {
		name: "a wider prefix's first host is the VIP; the health check's port is the TM's",
		edit: func(c *config.Config) {
			c.Groups[0].Rules[0].Dst = "10.0.0.0/24"
			c.TMs[0].Health.Target = "http://10.0.1.1:9000/healthz"
		},
		vips: []string{"10.0.0.1 web", "2001:db8:100::100 web6"},
		tms: []tmPlan{
			{Name: "tm1", NS: "xt1", SNAT: "10.3.0.1", Backend: "203.0.113.10:8080", VIPs: []string{"10.0.0.1:80"}, HTTPPort: 9000},
			{Name: "tm5", NS: "xt5", SNAT: "2001:db8:300::1", Backend: "[2001:db8:5::10]:8080", VIPs: []string{"[2001:db8:100::100]:80"}, HTTPPort: 8081},
		},
	}, {
		name:    "three switches",
		edit:    func(c *config.Config) { c.Switches = append(c.Switches, c.Switches[0]) },
		wantErr: "one or two distributors, the config has 3 switches",
	}, {
		name:    "a TM without SNAT",
		edit:    func(c *config.Config) { c.TMs[2].SNAT = nil },
		wantErr: "tm tm3 has no snat address",
	}, {
		name:    "a group with no destination rule",
		edit:    func(c *config.Config) { c.Groups[1].Rules = []config.Rule{{Priority: 1, Src: "2001:db8:300::1/128"}} },
		wantErr: "group web6 of tm tm4 has no rule with a destination",
	}} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := config.Load("../examples/rehearse.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if c.edit != nil {
				c.edit(cfg)
			}
			r := &Rehearsal{Opts: RehearseOptions{Config: "rehearse.yaml", Prefix: "x"}, Config: cfg}
			err = r.plan()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("plan: %v, want an error with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var vips []string
			for _, v := range r.VIPs {
				vips = append(vips, v.Addr.String()+" "+v.Group)
			}
			var tms []tmPlan
			for _, x := range []*RehearsalTM{r.TMs[0], r.TMs[len(r.TMs)-1]} {
				tms = append(tms, tmPlan{x.Name, x.NS, x.SNAT.String(), x.Backend, x.VIPs, x.HTTPPort})
			}
			if d := cmp.Diff(c.vips, vips); d != "" {
				t.Errorf("VIPs (-want +got):\n%s", d)
			}
			if d := cmp.Diff(c.tms, tms); d != "" {
				t.Errorf("TMs (-want +got):\n%s", d)
			}
		})
	}
}
