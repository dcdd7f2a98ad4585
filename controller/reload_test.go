// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/symdist/symdist/test/testbed"

	"github.com/symdist/symdist/adminapi"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/controller"
)

// tmSpec is one TM of a test config: tm<i> on switch port i+1.
type tmSpec struct {
	i      int
	weight int
	health string // "tcp" (the lab's health target i) or "none"
}

// yaml is the lab's config text with the given TMs; extraRule is appended
// to the group's rules. A health check must fail 20 times in a row (1 s)
// before its TM goes down, so that a loaded test machine does not flap
// TMs and move buckets the test does not expect.
func (l *lab) yaml(electionID uint64, extraRule string, tms ...tmSpec) string {
	var s strings.Builder
	for _, tm := range tms {
		health := "{type: none}"
		if tm.health == "tcp" {
			health = fmt.Sprintf(`{type: tcp, target: "%s", interval: 50ms, timeout: 45ms, rise: 2, fall: 20}`, l.health[tm.i-1].addr)
		}
		fmt.Fprintf(&s, `  - name: tm%d
    id: %d
    group: web
    weight: %d
    ports:
      client-side: {port: %d, mac: "02:00:00:00:01:0%d"}
      server-side: {port: %d, mac: "02:00:00:00:02:0%d"}
    health: %s
`, tm.i, tm.i, tm.weight, tm.i+1, tm.i, tm.i+1, tm.i, health)
	}
	text := fmt.Sprintf(configTemplate, electionID, l.client.addr, l.server.addr, s.String())
	text = strings.Replace(text, "default_tm: tm1", fmt.Sprintf("default_tm: tm%d", tms[0].i), 1)
	if extraRule != "" {
		text = strings.Replace(text, "dst: 10.0.0.0/8}]", "dst: 10.0.0.0/8}, "+extraRule+"]", 1)
	}
	return text
}

func (l *lab) parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// owners reads a switch's bucket table of group 1 as TM names (tm<id>).
func owners(t *testing.T, ts *testSwitch) []string {
	var out []string
	for _, m := range ts.bucketTable(t) {
		name := ""
		if m != 0 {
			name = fmt.Sprintf("tm%d", m)
		}
		out = append(out, name)
	}
	return out
}

// movesBetween counts the buckets that changed owner, by pair, as the
// controller's plan does.
func movesBetween(before, after []string) []adminapi.Move {
	count := map[[2]string]int{}
	for b := range before {
		if before[b] != after[b] {
			count[[2]string{before[b], after[b]}]++
		}
	}
	var ms []adminapi.Move
	for k, n := range count {
		ms = append(ms, adminapi.Move{From: k[0], To: k[1], Buckets: n})
	}
	return ms
}

var sortMoves = cmpopts.SortSlices(func(a, b adminapi.Move) bool { return a.From+"/"+a.To < b.From+"/"+b.To })

// settled: both switches in sync and each TM holds the buckets the plan
// says it ends with (a new TM gets them once its health check passes).
func settled(t *testing.T, c *controller.Controller, l *lab, p *adminapi.ConfigPlan) bool {
	if !inSync(c) {
		return false
	}
	got := map[string]int{}
	for _, o := range owners(t, l.client) {
		got[o]++
	}
	for _, tm := range p.Groups[0].TMs {
		if got[tm.Name] != tm.After {
			return false
		}
	}
	return cmp.Equal(owners(t, l.client), owners(t, l.server))
}

// startReloadLab runs a controller of tm1 and tm2 (health checked) with
// its admin API, programmed; start is its config text.
func startReloadLab(t *testing.T) (*lab, *controller.Controller, adminapi.Client, string) {
	l := newLab(t)
	start := l.yaml(10, "", tmSpec{1, 1, "tcp"}, tmSpec{2, 1, "tcp"})
	c, _ := runController(t, l.parse(t, start))
	srv := httptest.NewServer(c.Handler(""))
	t.Cleanup(srv.Close)
	testbed.Eventually(t, "initial programming", 10*time.Second, func() bool { return inSync(c) })
	return l, c, adminapi.Client{URL: srv.URL}, start
}

// Each reload moves only what its change concerns, and `config plan`
// printed exactly what `config apply` then did: the planned moves, pair by
// pair, are those read back from both switches before and after.
func TestReloadPlanIsWhatApplyDoes(t *testing.T) {
	l, c, client, _ := startReloadLab(t)
	ctx := context.Background()

	steps := []struct {
		name string
		yaml string
		// concerns: a bucket may only move from or to these TMs.
		concerns []string
		wantTMs  map[string]string // TM -> its change as the plan reports it
	}{
		{"add tm3 (health checked)", l.yaml(10, "", tmSpec{1, 1, "tcp"}, tmSpec{2, 1, "tcp"}, tmSpec{3, 1, "tcp"}),
			[]string{"tm3"}, map[string]string{"tm3": "added"}},
		{"tm2 weight 1 -> 3", l.yaml(10, "", tmSpec{1, 1, "tcp"}, tmSpec{2, 3, "tcp"}, tmSpec{3, 1, "tcp"}),
			[]string{"tm2"}, map[string]string{"tm2": "weight 1 -> 3"}},
		{"remove tm1", l.yaml(10, "", tmSpec{2, 3, "tcp"}, tmSpec{3, 1, "tcp"}),
			[]string{"tm1"}, map[string]string{"tm1": "removed"}},
		{"add tm1 back without a health check", l.yaml(10, "", tmSpec{1, 2, "none"}, tmSpec{2, 3, "tcp"}, tmSpec{3, 1, "tcp"}),
			[]string{"tm1"}, map[string]string{"tm1": "added"}},
		{"add a rule: no bucket moves", l.yaml(10, "{priority: 20, ip_version: 6, dst: \"fd00::/8\"}", tmSpec{1, 2, "none"}, tmSpec{2, 3, "tcp"}, tmSpec{3, 1, "tcp"}),
			nil, nil},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			before := owners(t, l.client)
			plan, err := client.PlanConfig(ctx, "test.yaml", []byte(step.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if plan.Applied {
				t.Error("plan says applied")
			}
			if got := owners(t, l.client); !cmp.Equal(got, before) {
				t.Fatal("config plan changed the switch")
			}
			applied, err := client.ApplyConfig(ctx, "test.yaml", []byte(step.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(plan, applied, cmpopts.IgnoreFields(adminapi.ConfigPlan{}, "Applied")); diff != "" {
				t.Errorf("apply did otherwise than planned (-plan +apply):\n%s", diff)
			}
			testbed.Eventually(t, "the switches to hold the planned table", 10*time.Second, func() bool { return settled(t, c, l, applied) })
			after := owners(t, l.client)
			g := plan.Groups[0]
			if diff := cmp.Diff(g.Moves, movesBetween(before, after), sortMoves, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("planned moves differ from the switches' (-plan +switches):\n%s", diff)
			}
			for _, m := range g.Moves {
				if !slices.Contains(step.concerns, m.From) && !slices.Contains(step.concerns, m.To) {
					t.Errorf("%d buckets moved %s -> %s, between TMs the change does not concern", m.Buckets, m.From, m.To)
				}
			}
			for _, tm := range g.TMs {
				want := step.wantTMs[tm.Name]
				if got := strings.Join(tm.Changes, ", "); got != want {
					t.Errorf("plan: %s changes %q, want %q", tm.Name, got, want)
				}
			}
			if step.concerns == nil && (g.Moved != 0 || len(g.RulesAdded) != 1) {
				t.Errorf("adding a rule: %d buckets moved, rules added %v; want 0 and one", g.Moved, g.RulesAdded)
			}
		})
	}
}

// A file that fails its checks, or changes what needs a restart, changes
// nothing, and the answer names file:line: field for every problem.
func TestReloadRejectsBadFile(t *testing.T) {
	l, c, client, start := startReloadLab(t)
	table, status := owners(t, l.client), c.Status()

	tests := []struct {
		name, old, new string
		want           []string
	}{
		{"bad weight", "    weight: 1\n    ports:\n      client-side: {port: 3", "    weight: 2000\n    ports:\n      client-side: {port: 3",
			[]string{"test.yaml:30: tms[1].weight: must be 1-1000"}},
		{"switch address", "address: " + l.server.addr, "address: 127.0.0.1:1",
			[]string{"test.yaml:10: switches[1].address: needs a controller restart"}},
		{"device id", "    device_id: 1\n", "    device_id: 7\n",
			[]string{"test.yaml:7: switches[0].device_id: needs a controller restart (running: 1, file: 7)"}},
		{"not YAML", "groups:", "groups: [",
			[]string{"test.yaml: yaml:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(start, tc.old, tc.new, 1)
			if bad == start {
				t.Fatalf("%q not in the config", tc.old)
			}
			for _, send := range []func(context.Context, string, []byte) (*adminapi.ConfigPlan, error){client.PlanConfig, client.ApplyConfig} {
				_, err := send(context.Background(), "test.yaml", []byte(bad))
				var rej *adminapi.RejectedError
				if !errors.As(err, &rej) {
					t.Fatalf("got %v, want a rejection", err)
				}
				for _, w := range tc.want {
					if !strings.Contains(strings.Join(rej.Errors, "\n"), w) {
						t.Errorf("errors %q lack %q", rej.Errors, w)
					}
				}
			}
			if diff := cmp.Diff(status, c.Status(), cmpopts.IgnoreFields(adminapi.SwitchStatus{}, "LastSync")); diff != "" {
				t.Errorf("status changed:\n%s", diff)
			}
			if !cmp.Equal(owners(t, l.client), table) || !cmp.Equal(owners(t, l.server), table) {
				t.Error("a switch's bucket table changed")
			}
		})
	}
}

// SIGHUP's path: the controller reads its file again; an applied config
// is saved to the file, the previous one kept as .prev.
func TestReloadFileAndSave(t *testing.T) {
	l := newLab(t)
	start := l.yaml(10, "", tmSpec{1, 1, "none"}, tmSpec{2, 1, "none"})
	c, _ := runController(t, l.parse(t, start))
	path := filepath.Join(t.TempDir(), "symdist.yaml")
	if err := os.WriteFile(path, []byte(start), 0o644); err != nil {
		t.Fatal(err)
	}
	c.SetConfigFile(path)
	testbed.Eventually(t, "initial programming", 10*time.Second, func() bool { return inSync(c) })

	three := l.yaml(10, "", tmSpec{1, 1, "none"}, tmSpec{2, 1, "none"}, tmSpec{3, 1, "none"})
	if err := os.WriteFile(path, []byte(three), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := c.Reload()
	if err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, "tm3 to get its share", 10*time.Second, func() bool { return settled(t, c, l, p) })
	if p.Groups[0].Moved < 1365 || p.Saved != "" {
		t.Errorf("reload moved %d buckets and saved to %q; want >= 1365 and no save", p.Groups[0].Moved, p.Saved)
	}

	two := l.yaml(10, "", tmSpec{1, 1, "none"}, tmSpec{3, 1, "none"})
	if p, err = c.ApplyConfig("two.yaml", []byte(two)); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, "tm2 removed", 10*time.Second, func() bool { return settled(t, c, l, p) })
	if got, _ := os.ReadFile(path); string(got) != two {
		t.Error("the applied config was not saved to the config file")
	}
	if got, _ := os.ReadFile(path + ".prev"); string(got) != three {
		t.Error("the replaced config was not kept as .prev")
	}
	if fi, err := os.Stat(path); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o644 {
		t.Errorf("saved config has mode %v, want 0644 as before", fi.Mode())
	}
	for _, tm := range c.Status().Groups[0].TMs {
		if tm.Name == "tm2" {
			t.Error("status still lists the removed tm2")
		}
	}
}

// `config apply` to the primary and then the backup: the backup takes the
// config without writing, and when it takes over it adopts the tables
// under the new config, so the TM added at run time keeps its buckets.
func TestApplyToBackupThenFailover(t *testing.T) {
	l := newLab(t)
	two := []tmSpec{{1, 1, "tcp"}, {2, 1, "tcp"}}
	primary, stopPrimary := runController(t, l.parse(t, l.yaml(20, "", two...)))
	testbed.Eventually(t, "primary in sync", 10*time.Second, func() bool { return inSync(primary) })
	backup, _ := runController(t, l.parse(t, l.yaml(10, "", two...)))
	testbed.Eventually(t, "backup connected", 10*time.Second, func() bool {
		return !slices.ContainsFunc(backup.Status().Switches, func(s adminapi.SwitchStatus) bool { return !s.Connected })
	})

	three := append(two, tmSpec{3, 2, "tcp"})
	p, err := primary.ApplyConfig("test.yaml", []byte(l.yaml(20, "", three...)))
	if err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, "tm3 to get its share", 10*time.Second, func() bool { return settled(t, primary, l, p) })
	bp, err := backup.ApplyConfig("test.yaml", []byte(l.yaml(10, "", three...)))
	if err != nil {
		t.Fatal(err)
	}
	if !bp.NoTables || !bp.Applied {
		t.Errorf("backup's answer: no_tables %v, applied %v; want both", bp.NoTables, bp.Applied)
	}
	table := owners(t, l.client)
	stopPrimary()

	testbed.Eventually(t, "backup takes over", 10*time.Second, func() bool { return inSync(backup) })
	if !cmp.Equal(owners(t, l.client), table) {
		t.Errorf("the bucket table changed when the backup took over: moves %v", movesBetween(table, owners(t, l.client)))
	}
	for _, s := range backup.Status().Switches {
		if s.LastWritten != 0 {
			t.Errorf("new primary wrote %d updates to %s, want 0", s.LastWritten, s.Name)
		}
	}
}

// A reload restarts the health check it changes: tm2's check pointed at a
// closed port takes it down (only its buckets move); changed to none, it
// is up at once and gets its share back, only from the others.
func TestReloadChangesHealthChecks(t *testing.T) {
	l, c, client, start := startReloadLab(t)
	ctx := context.Background()
	dead := strings.Replace(start, l.health[1].addr, "127.0.0.1:1", 1)
	if dead == start {
		t.Fatal("tm2's health target not in the config")
	}
	before := owners(t, l.client)
	if _, err := client.ApplyConfig(ctx, "test.yaml", []byte(dead)); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, "tm2 down", 10*time.Second, func() bool { return bucketsOf(t, l, "tm2") == 0 && inSync(c) })
	for _, m := range movesBetween(before, owners(t, l.client)) {
		if m.From != "tm2" {
			t.Errorf("%d buckets moved %s -> %s", m.Buckets, m.From, m.To)
		}
	}

	none := l.yaml(10, "", tmSpec{1, 1, "tcp"}, tmSpec{2, 1, "none"})
	before = owners(t, l.client)
	p, err := client.ApplyConfig(ctx, "test.yaml", []byte(none))
	if err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, "tm2 back", 10*time.Second, func() bool { return settled(t, c, l, p) })
	if diff := cmp.Diff(p.Groups[0].Moves, movesBetween(before, owners(t, l.client)), sortMoves); diff != "" {
		t.Errorf("moves (-plan +switches):\n%s", diff)
	}
	if got := bucketsOf(t, l, "tm2"); got != 2048 {
		t.Errorf("tm2 holds %d buckets, want 2048", got)
	}
}
