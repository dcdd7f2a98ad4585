// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
)

// bucketEntries counts a switch's bucket_table entries per group_id.
func (ts *testSwitch) bucketEntries(t *testing.T) map[uint64]int {
	t.Helper()
	p := ts.sw.Server().Pipeline()
	if p == nil {
		return nil
	}
	ids, _ := p.Schema().Resolve()
	n := map[uint64]int{}
	err := p.Read(&p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: ids.BucketTable.Table}}}, func(e *p4v1.Entity) error {
		for _, m := range e.GetTableEntry().GetMatch() {
			if m.GetFieldId() == ids.BucketTable.GroupID {
				var g uint64
				for _, c := range m.GetExact().GetValue() {
					g = g<<8 | uint64(c)
				}
				n[g]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

const twoGroupsConfig = `admin: {listen: "127.0.0.1:0"}
buckets: 1024
switches:
  - name: sw
    address: ADDR
    device_id: 1
    ports: [{port: 1, role: edge}, {port: 2, role: tm}, {port: 3, role: tm}]
groups:
  - {name: small, id: 1, default_tm: a, rules: [{priority: 10, vlan: 10}]}
  - {name: large, id: 2, default_tm: b, buckets: 4096, rules: [{priority: 10, vlan: 20}]}
tms:
  - {name: a, id: 1, group: small, ports: {sw: {port: 2, mac: "02:00:00:00:00:01"}}}
  - {name: b, id: 2, group: large, ports: {sw: {port: 3, mac: "02:00:00:00:00:02"}}}
`

// Each group gets the bucket count its config gives (its own, or the
// top-level default): the controller's table and the switch's entries.
func TestBucketsPerGroup(t *testing.T) {
	sw := startSwitch(t, "", 1)
	defer sw.stop()
	cfg, err := config.Parse("groups.yaml", []byte(strings.Replace(twoGroupsConfig, "ADDR", sw.addr, 1)))
	if err != nil {
		t.Fatal(err)
	}
	c, stop := runController(t, cfg)
	defer stop()
	deadline := time.Now().Add(30 * time.Second)
	for !inSync(c) {
		if time.Now().After(deadline) {
			t.Fatal("controller never in sync")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for group, want := range map[string]int{"small": 1024, "large": 4096} {
		b, err := c.Buckets(group)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != want {
			t.Errorf("group %s: controller's table has %d buckets, want %d", group, len(b), want)
		}
	}
	if got, want := sw.bucketEntries(t), map[uint64]int{1: 1024, 2: 4096}; got[1] != want[1] || got[2] != want[2] {
		t.Errorf("switch holds %v bucket entries per group_id, want %v", got, want)
	}
	// The data plane takes each group's count from bucket_mask.
	p := sw.sw.Server().Pipeline()
	ids, _ := p.Schema().Resolve()
	masks := map[string]string{}
	err = p.Read(&p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: ids.BucketMask.Table}}}, func(e *p4v1.Entity) error {
		te := e.GetTableEntry()
		masks[fmt.Sprintf("%x", te.GetMatch()[0].GetExact().GetValue())] = fmt.Sprintf("%x", te.GetAction().GetAction().GetParams()[0].GetValue())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"01": "03ff", "02": "0fff"}; !maps.Equal(masks, want) {
		t.Errorf("bucket_mask entries %v, want %v (group_id -> B - 1)", masks, want)
	}
}
