// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/controller"
)

const reloadConfig = `
admin: {listen: "127.0.0.1:0"}
switches:
  - name: dist
    address: %s
    device_id: 1
    ports: [{port: 1, role: edge}, {port: 2, role: tm}, {port: 3, role: tm}, {port: 4, role: tm}]
groups:
  - {name: web, id: 1, default_tm: tm1, rules: [{priority: 10, ip_version: 4, dst: 10.0.0.0/8}]}
tms:
%s`

func reloadTM(i, weight int) string {
	return fmt.Sprintf("  - {name: tm%d, id: %d, group: web, weight: %d, ports: {dist: {port: %d, mac: \"02:00:00:00:00:0%d\"}}}\n", i, i, weight, i+1, i)
}

// `symdist config plan` prints the change before anything is written;
// `symdist config apply` applies it and prints the same plan as applied.
func TestConfigPlanAndApplyCommands(t *testing.T) {
	_, addr := startSoftSwitch(t)
	cfg, err := config.Parse("start.yaml", []byte(fmt.Sprintf(reloadConfig, addr, reloadTM(1, 1)+reloadTM(2, 1))))
	if err != nil {
		t.Fatal(err)
	}
	c, err := controller.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	srv := httptest.NewServer(c.Handler(""))
	defer srv.Close()
	deadline := time.Now().Add(10 * time.Second)
	for st := c.Status(); !st.Switches[0].InSync; st = c.Status() {
		if time.Now().After(deadline) {
			t.Fatal("controller never in sync")
		}
		time.Sleep(10 * time.Millisecond)
	}

	path := filepath.Join(t.TempDir(), "next.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(reloadConfig, addr, reloadTM(1, 1)+reloadTM(2, 1)+reloadTM(3, 2))), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err := runCmd(t, "config", "plan", path, "--controller", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"plan (nothing written):",
		"group web: 2048 of 4096 buckets move (50.0% of its flows)",
		"tm1 - 1 2048 -> 1024 0 (0.0%) 1024 (25.0%)",
		"tm3 added 2 0 -> 2048 2048 (50.0%) 0 (0.0%)",
		"move tm1 -> tm3: 1024 buckets",
		"entries on switch dist: bucket_table: 0 deleted, 2048 modified, 0 inserted",
		"l2_forward: 0 deleted, 0 modified, 1 inserted",
		"tm_members: 0 deleted, 0 modified, 1 inserted",
	} {
		if !strings.Contains(strings.Join(strings.Fields(plan), " "), want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
	if n := c.Status().Groups[0].TMs; len(n) != 2 {
		t.Fatalf("plan changed the controller: %d TMs", len(n))
	}
	applied, err := runCmd(t, "config", "apply", path, "--controller", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Replace(applied, "applied:", "plan (nothing written):", 1); got != plan {
		t.Errorf("apply printed otherwise than plan:\n%s\nplan:\n%s", applied, plan)
	}

	// SIGHUP reloads the controller's own file.
	c.SetConfigFile(path)
	caught := make(chan os.Signal, 1)
	signal.Notify(caught, syscall.SIGHUP) // so that the signal never kills the test
	defer signal.Stop(caught)
	go reloadOnHangup(ctx, c, slog.New(slog.DiscardHandler))
	if err := os.WriteFile(path, []byte(fmt.Sprintf(reloadConfig, addr, reloadTM(1, 1)+reloadTM(2, 1)+reloadTM(3, 1))), 0o644); err != nil {
		t.Fatal(err)
	}
	for weight := 2; weight != 1; weight = c.Status().Groups[0].TMs[2].Weight {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatal("SIGHUP did not reload the config")
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGHUP)
		time.Sleep(50 * time.Millisecond)
	}

	// drain and undrain from the command line.
	for _, drain := range []bool{true, false} {
		verb := map[bool]string{true: "drain", false: "undrain"}[drain]
		if _, err := runCmd(t, verb, "tm3", "--controller", srv.URL); err != nil {
			t.Fatal(err)
		}
		if got := c.Status().Groups[0].TMs[2].Drained; got != drain {
			t.Errorf("after %s, tm3 drained = %v", verb, got)
		}
	}
	if _, err := runCmd(t, "drain", "tm9", "--controller", srv.URL); err == nil || !strings.Contains(err.Error(), `no TM "tm9"`) {
		t.Errorf("drain of an unknown TM: %v", err)
	}

	bad := strings.Replace(fmt.Sprintf(reloadConfig, addr, reloadTM(1, 1)), "device_id: 1", "device_id: 2", 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = runCmd(t, "config", "apply", path, "--controller", srv.URL)
	if err == nil || !strings.Contains(err.Error(), "next.yaml:6: switches[0].device_id: needs a controller restart") {
		t.Errorf("apply of a file changing a device id: %v", err)
	}
}

// The plan prints each table's deletions, modifications and insertions,
// the first deleted entries, and how many more are deleted.
func TestPrintEntries(t *testing.T) {
	for _, tt := range []struct {
		name string
		plan adminapi.ConfigPlan
		want []string
	}{
		{"none", adminapi.ConfigPlan{}, []string{"no switch entry changes"}},
		{"deletes", adminapi.ConfigPlan{Entries: []adminapi.TableChange{
			{Switch: "server-side", Table: "bucket_table", Deleted: 2048, FirstDeleted: []string{"group web (id 1) bucket 0 -> tm3 (member 3)", "group web (id 1) bucket 3 -> tm3 (member 3)"}},
			{Switch: "server-side", Table: "tm_members", Deleted: 1, FirstDeleted: []string{"member 3 -> send_to_tm(...)"}},
		}}, []string{
			"entries on switch server-side:",
			"  bucket_table: 2048 deleted, 0 modified, 0 inserted",
			"    deletes group web (id 1) bucket 0 -> tm3 (member 3)",
			"    deletes group web (id 1) bucket 3 -> tm3 (member 3)",
			"    and 2046 more deleted",
			"  tm_members: 1 deleted, 0 modified, 0 inserted",
			"    deletes member 3 -> send_to_tm(...)",
		}},
		{"no tables", adminapi.ConfigPlan{NoTables: true, Entries: []adminapi.TableChange{{Switch: "a", Table: "l2_forward", Inserted: 1}}}, []string{
			"entries on switch a:",
			"  l2_forward: 0 deleted, 0 modified, 1 inserted",
			"  (bucket_table not included: this controller holds no bucket table)",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			printEntries(&b, &tt.plan)
			if diff := cmp.Diff(tt.want, strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")); diff != "" {
				t.Errorf("printed (-want +got):\n%s", diff)
			}
		})
	}
}
