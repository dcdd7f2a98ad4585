// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"fmt"
	"strings"
	"testing"

	"github.com/symdist/symdist/adminapi"

	"github.com/google/go-cmp/cmp"
	"github.com/symdist/symdist/config"
)

// twoGroups is a config of groups web (tm1-tm3) and db (tm4, tm5), with
// the TMs given as "name:group:weight"; no switch is reached.
func twoGroups(tms ...string) string {
	var s strings.Builder
	s.WriteString(`buckets: 64
switches:
  - name: d
    address: 127.0.0.1:1
    ports: [{port: 1, role: edge}, {port: 2, role: tm}, {port: 3, role: tm}, {port: 4, role: tm}, {port: 5, role: tm}, {port: 6, role: tm}]
groups:
`)
	groups := map[string]string{}
	for _, tm := range tms {
		f := strings.Split(tm, ":")
		if groups[f[1]] == "" {
			groups[f[1]] = f[0]
			id := map[string]int{"web": 1, "db": 2}[f[1]]
			fmt.Fprintf(&s, "  - {name: %s, id: %d, default_tm: %s, rules: [{priority: %d, dst: 10.%d.0.0/16}]}\n", f[1], id, f[0], id, id)
		}
	}
	s.WriteString("tms:\n")
	for _, tm := range tms {
		f := strings.Split(tm, ":")
		n := f[0][2:]
		fmt.Fprintf(&s, "  - {name: %s, id: %s, group: %s, weight: %s, ports: {d: {port: %d, mac: \"02:00:00:00:00:0%s\"}}}\n", f[0], n, f[1], f[2], int(n[0]-'0')+1, n)
	}
	return s.String()
}

// A controller with tables computed for cfg (as after adoption).
func plannedController(t *testing.T, text string) *Controller {
	cfg, err := config.Parse("start.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ensureTables(t.Context()); err != nil { // no session: fresh tables
		t.Fatal(err)
	}
	return c
}

// Plans across groups: a TM moving to another group leaves only its own
// buckets in the first and takes only from the second's TMs; an added
// group is filled from no owner; a removed group's buckets go to no
// owner; the other group never moves.
func TestPlanAcrossGroups(t *testing.T) {
	start := twoGroups("tm1:web:1", "tm2:web:1", "tm3:web:2", "tm4:db:1", "tm5:db:1")
	tests := []struct {
		name string
		next string
		want map[string][]adminapi.Move // group -> moves, from and to only (counts checked against shares)
	}{
		{"tm3 moves from web to db", twoGroups("tm1:web:1", "tm2:web:1", "tm3:db:2", "tm4:db:1", "tm5:db:1"),
			map[string][]adminapi.Move{"web": {{From: "tm3", To: "tm1", Buckets: 16}, {From: "tm3", To: "tm2", Buckets: 16}}, "db": {{From: "tm4", To: "tm3", Buckets: 16}, {From: "tm5", To: "tm3", Buckets: 16}}}},
		{"db removed", twoGroups("tm1:web:1", "tm2:web:1", "tm3:web:2"),
			map[string][]adminapi.Move{"web": nil, "db": {{From: "tm4", To: "", Buckets: 32}, {From: "tm5", To: "", Buckets: 32}}}},
		{"weights in both groups", twoGroups("tm1:web:1", "tm2:web:1", "tm3:web:6", "tm4:db:1", "tm5:db:3"),
			map[string][]adminapi.Move{"web": {{From: "tm1", To: "tm3", Buckets: 8}, {From: "tm2", To: "tm3", Buckets: 8}}, "db": {{From: "tm4", To: "tm5", Buckets: 16}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := plannedController(t, start)
			before := c.Status()
			p, err := c.PlanConfig("next.yaml", []byte(tt.next))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]adminapi.Move{}
			for _, g := range p.Groups {
				got[g.Name] = g.Moves
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("moves (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, c.Status()); diff != "" {
				t.Errorf("plan changed the controller:\n%s", diff)
			}
			applied, err := c.ApplyConfig("next.yaml", []byte(tt.next))
			if err != nil {
				t.Fatal(err)
			}
			applied.Applied = false
			if diff := cmp.Diff(p, applied); diff != "" {
				t.Errorf("apply (-plan +apply):\n%s", diff)
			}
		})
	}
	t.Run("db added back", func(t *testing.T) {
		c := plannedController(t, twoGroups("tm1:web:1", "tm2:web:1", "tm3:web:2"))
		p, err := c.ApplyConfig("next.yaml", []byte(start))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Groups[1]; got.Name != "db" || got.Change != "added" || !cmp.Equal(got.Moves, []adminapi.Move{{From: "", To: "tm4", Buckets: 32}, {From: "", To: "tm5", Buckets: 32}}) {
			t.Errorf("db: %+v", got)
		}
		if b, _ := c.Buckets("db"); strings.Count(strings.Join(b, ","), "tm4") != 32 {
			t.Errorf("db table after apply: %v", b)
		}
	})
	// An added group takes its own bucket count, not the top-level one.
	t.Run("db added back with its own buckets", func(t *testing.T) {
		c := plannedController(t, twoGroups("tm1:web:1", "tm2:web:1", "tm3:web:2"))
		next := strings.Replace(start, "{name: db, id: 2,", "{name: db, id: 2, buckets: 16,", 1)
		p, err := c.ApplyConfig("next.yaml", []byte(next))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Groups[1]; got.Buckets != 16 || !cmp.Equal(got.Moves, []adminapi.Move{{From: "", To: "tm4", Buckets: 8}, {From: "", To: "tm5", Buckets: 8}}) {
			t.Errorf("db: %+v", got)
		}
		if b, _ := c.Buckets("db"); len(b) != 16 {
			t.Errorf("db table after apply has %d buckets, want 16", len(b))
		}
	})
}

// A plan lists, per switch and table, the entries the config deletes,
// modifies and inserts, with the first deleted ones named: not only the
// buckets that move (issue 21: an apply deleted a TM's bucket entries on
// one switch while its plan said "0 buckets move").
func TestPlanEntries(t *testing.T) {
	start := twoGroups("tm1:web:1", "tm2:web:1", "tm3:web:2", "tm4:db:1", "tm5:db:1")
	tests := []struct {
		name string
		next string
		want []adminapi.TableChange
	}{
		{"nothing changes", start, nil},
		{"db removed", twoGroups("tm1:web:1", "tm2:web:1", "tm3:web:2"), []adminapi.TableChange{
			{Switch: "d", Table: "bucket_mask", Deleted: 1, FirstDeleted: []string{"bucket_mask{group_id=0x02} -> set_bucket_mask(bucket_mask=0x3f)"}},
			{Switch: "d", Table: "bucket_table", Deleted: 64, FirstDeleted: []string{
				"group db (id 2) bucket 0 -> tm4 (member 4)", "group db (id 2) bucket 1 -> tm5 (member 5)", "group db (id 2) bucket 2 -> tm4 (member 4)",
				"group db (id 2) bucket 3 -> tm5 (member 5)", "group db (id 2) bucket 4 -> tm4 (member 4)"}},
			{Switch: "d", Table: "default_tm", Deleted: 1, FirstDeleted: []string{"default_tm{group_id=0x02} -> send_to_tm(tm_id=0x04, port=0x05, tm_mac=02:00:00:00:00:04)"}},
			{Switch: "d", Table: "group_classifier", Deleted: 2, FirstDeleted: []string{
				"group_classifier{ip_src=0x0a020000&&&0xffff0000, priority=2} -> set_group(group_id=0x02)",
				"group_classifier{ip_dst=0x0a020000&&&0xffff0000, priority=2} -> set_group(group_id=0x02)"}},
			{Switch: "d", Table: "l2_forward", Deleted: 2, FirstDeleted: []string{
				"l2_forward{dst_addr=0x020000000004} -> forward(port=0x05)", "l2_forward{dst_addr=0x020000000005} -> forward(port=0x06)"}},
			{Switch: "d", Table: "tm_members", Deleted: 2, FirstDeleted: []string{
				"member 4 -> send_to_tm(tm_id=0x04, port=0x05, tm_mac=02:00:00:00:00:04)", "member 5 -> send_to_tm(tm_id=0x05, port=0x06, tm_mac=02:00:00:00:00:05)"}},
		}},
		// Buckets that change owner are modified, not deleted.
		{"weights in web", twoGroups("tm1:web:1", "tm2:web:1", "tm3:web:6", "tm4:db:1", "tm5:db:1"), []adminapi.TableChange{
			{Switch: "d", Table: "bucket_table", Modified: 16},
		}},
		{"tm5 removed", twoGroups("tm1:web:1", "tm2:web:1", "tm3:web:2", "tm4:db:1"), []adminapi.TableChange{
			{Switch: "d", Table: "bucket_table", Modified: 32},
			{Switch: "d", Table: "l2_forward", Deleted: 1, FirstDeleted: []string{"l2_forward{dst_addr=0x020000000005} -> forward(port=0x06)"}},
			{Switch: "d", Table: "tm_members", Deleted: 1, FirstDeleted: []string{"member 5 -> send_to_tm(tm_id=0x05, port=0x06, tm_mac=02:00:00:00:00:05)"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := plannedController(t, start)
			p, err := c.PlanConfig("next.yaml", []byte(tt.next))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, p.Entries); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}
