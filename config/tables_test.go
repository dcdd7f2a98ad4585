// SPDX-License-Identifier: Apache-2.0

package config

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// manyRules returns n more rules for the web group, each with its own
// destination, so each takes two group_classifier entries (it and its
// mirror).
func manyRules(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "      - {priority: 10, ip_version: 4, dst: 10.9.%d.%d/32}\n", i/256, i%256)
	}
	return b.String()
}

const webRules = "      - {priority: 10, ip_version: 4, dst: 10.3.0.1/32}     # the shared SNAT address\n"

// Configs that parse and pass the field checks but cannot work, or would
// silently lose an entry, are refused: each error names the file, the line
// of the field at fault, the field and the problem.
func TestConfigsThatCannotWork(t *testing.T) {
	base, err := os.ReadFile("../examples/figure3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		edits [][2]string // old, new: applied in order to figure3.yaml
		// at is text on the line the error must point at (in the edited
		// config), field the field it must name, want the problem.
		at, field, want string
	}{
		{
			name:  "classifier over the P4Info size",
			edits: [][2]string{{webRules, webRules + manyRules(598)}}, // 600 rules, 1,200 entries
			at:    "dst: 10.9.1.254/32", field: "groups[0].rules[512]",
			want: "group_classifier holds 1024 entries (P4Info size); this config needs 1200",
		},
		{
			name: "same rule in two groups",
			edits: [][2]string{
				{"\ntms:\n", "  - name: api\n    id: 2\n    default_tm: tm3\n    rules:\n      - {priority: 10, ip_version: 4, dst: 10.0.0.100/32}\n\ntms:\n"},
				{"    group: web\n    weight: 2", "    group: api\n    weight: 2"},
			},
			at: "- {priority: 10, ip_version: 4, dst: 10.0.0.100/32}\n\ntms:", field: "groups[1].rules[0]",
			want: "same match and priority as groups[0].rules[0] (group web)",
		},
		{
			name:  "static L2 MAC is a TM's",
			edits: [][2]string{{"      - {port: 5, role: peer}\n  - name: server-side", "      - {port: 5, role: peer}\n    l2:\n      - {mac: \"02:00:00:00:01:02\", port: 1}\n  - name: server-side"}},
			at:    `{mac: "02:00:00:00:01:02", port: 1}`, field: "switches[0].l2[0].mac",
			want: "02:00:00:00:01:02 is the MAC of TM tm2 on switch client-side",
		},
		{
			name:  "static L2 MAC twice",
			edits: [][2]string{{"      - {port: 5, role: peer}\n  - name: server-side", "      - {port: 5, role: peer}\n    l2:\n      - {mac: \"02:00:00:00:99:01\", port: 1}\n      - {mac: \"02:00:00:00:99:01\", port: 5}\n  - name: server-side"}},
			at:    `{mac: "02:00:00:00:99:01", port: 5}`, field: "switches[0].l2[1].mac",
			want: "02:00:00:00:99:01 is already switches[0].l2[0]",
		},
		{
			name:  "two TMs with one MAC",
			edits: [][2]string{{`client-side: {port: 3, mac: "02:00:00:00:01:02"}`, `client-side: {port: 3, mac: "02:00:00:00:01:01"}`}},
			at:    `client-side: {port: 3, mac: "02:00:00:00:01:01"}`, field: "tms[1].ports.client-side.mac",
			want: "02:00:00:00:01:01 is the MAC of TM tm1 on switch client-side",
		},
		{
			name:  "weight 0",
			edits: [][2]string{{"    weight: 2\n", "    weight: 0\n"}},
			at:    "    weight: 0", field: "tms[2].weight",
			want: "weight 0 is refused",
		},
		{
			name:  "TM without a port on one switch (issue 21 row 1)",
			edits: [][2]string{{"      client-side: {port: 4, mac: \"02:00:00:00:01:03\"}\n", ""}},
			at:    "    ports:\n      server-side: {port: 4", field: "tms[2].ports",
			want: "TM tm3 has no port on switch client-side: every switch holds group web's bucket table",
		},
		{
			name:  "TM address is the group's VIP (row 2)",
			edits: [][2]string{{"addresses: [10.0.1.1]", "addresses: [10.0.1.1, 10.0.0.100]"}},
			at:    "addresses: [10.0.1.1, 10.0.0.100]", field: "tms[0].addresses[1]",
			want: "10.0.0.100 of TM tm1 is the dst 10.0.0.100/32 of a rule of group web (groups[0].rules[0]): packets to a TM's own address go to it directly",
		},
		{
			name:  "TM address is the group's SNAT address (row 2)",
			edits: [][2]string{{"addresses: [10.0.1.2]", "addresses: [10.3.0.1]"}},
			at:    "addresses: [10.3.0.1]", field: "tms[1].addresses[0]",
			want: "10.3.0.1 of TM tm2 is the dst 10.3.0.1/32 of a rule of group web (groups[0].rules[1])",
		},
		{
			name:  "two switches, one address and device id (row 3)",
			edits: [][2]string{{"127.0.0.1:9560\n    device_id: 2", "127.0.0.1:9559\n    device_id: 1"}},
			at:    "    address: 127.0.0.1:9559\n    device_id: 1\n    ports:\n      - {port: 1, role: edge}\n      - {port: 2, role: tm}\n      - {port: 3, role: tm}\n      - {port: 4, role: tm}\n      - {port: 5, role: peer}\n\ngroups", field: "switches[1].address",
			want: "switches client-side and server-side are both 127.0.0.1:9559 device_id 1",
		},
		{
			name:  "two switches, one address spelled two ways (row 3)",
			edits: [][2]string{{"127.0.0.1:9560\n    device_id: 2", "\"[::ffff:127.0.0.1]:9559\"\n    device_id: 1"}},
			at:    "    address: \"[::ffff:127.0.0.1]:9559\"", field: "switches[1].address",
			want: "switches client-side and server-side are both [::ffff:127.0.0.1]:9559 device_id 1",
		},
		{
			name:  "TM MAC multicast (row 15)",
			edits: [][2]string{{`server-side: {port: 2, mac: "02:00:00:00:02:01"}`, `server-side: {port: 2, mac: "01:00:5e:00:00:01"}`}},
			at:    `server-side: {port: 2, mac: "01:00:5e:00:00:01"}`, field: "tms[0].ports.server-side.mac",
			want: "MAC 01:00:5e:00:00:01 of TM tm1 on switch server-side is a multicast address",
		},
		{
			name:  "TM MAC all zeros (row 15)",
			edits: [][2]string{{`client-side: {port: 3, mac: "02:00:00:00:01:02"}`, `client-side: {port: 3, mac: "00:00:00:00:00:00"}`}},
			at:    `client-side: {port: 3, mac: "00:00:00:00:00:00"}`, field: "tms[1].ports.client-side.mac",
			want: "MAC 00:00:00:00:00:00 of TM tm2 on switch client-side is all zeros",
		},
		{
			name:  "TM MAC broadcast (row 15)",
			edits: [][2]string{{`client-side: {port: 3, mac: "02:00:00:00:01:02"}`, `client-side: {port: 3, mac: "ff:ff:ff:ff:ff:ff"}`}},
			at:    `client-side: {port: 3, mac: "ff:ff:ff:ff:ff:ff"}`, field: "tms[1].ports.client-side.mac",
			want: "is the broadcast address",
		},
		{
			name:  "static L2 MAC multicast (row 15)",
			edits: [][2]string{{"      - {port: 5, role: peer}\n  - name: server-side", "      - {port: 5, role: peer}\n    l2:\n      - {mac: \"33:33:00:00:00:01\", port: 1}\n  - name: server-side"}},
			at:    `{mac: "33:33:00:00:00:01", port: 1}`, field: "switches[0].l2[0].mac",
			want: "static MAC 33:33:00:00:00:01 of switch client-side is a multicast address",
		},
		{
			name: "second YAML document",
			edits: [][2]string{{"/healthz\", interval: 1s, timeout: 500ms, rise: 2, fall: 3}\n", // the last line
				"/healthz\", interval: 1s, timeout: 500ms, rise: 2, fall: 3}\n---\nbuckets: 1024\n"}},
			at: "---\nbuckets: 1024", field: "",
			want: "a second YAML document",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := string(base)
			for _, e := range tt.edits {
				if !strings.Contains(text, e[0]) {
					t.Fatalf("config lacks %q", e[0])
				}
				text = strings.Replace(text, e[0], e[1], 1)
			}
			i := strings.Index(text, tt.at)
			if i < 0 {
				t.Fatalf("edited config lacks %q", tt.at)
			}
			line := strings.Count(text[:i], "\n") + 1
			_, err := Parse("figure3.yaml", []byte(text))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			prefix := fmt.Sprintf("figure3.yaml:%d: %s: ", line, tt.field)
			if tt.field == "" { // an error about the file, not a field
				prefix = fmt.Sprintf("figure3.yaml:%d: ", line)
			}
			for _, e := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(e, prefix) && strings.Contains(e, tt.want) {
					return
				}
			}
			t.Errorf("error:\n%v\nhas no line starting %q containing %q", err, prefix, tt.want)
		})
	}
}
