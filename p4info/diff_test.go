// SPDX-License-Identifier: Apache-2.0

package p4info

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	"google.golang.org/protobuf/proto"
)

// Diff names every entity that differs, matched by name, and which of its
// fields.
func TestDiff(t *testing.T) {
	want := MustLoad().Info
	for _, tt := range []struct {
		name   string
		change func(*p4configv1.P4Info)
		diff   []string
	}{
		{"same", func(*p4configv1.P4Info) {}, nil},
		{"table renamed", func(i *p4configv1.P4Info) { i.Tables[0].Preamble.Name = "MyIngress.ipv4_lpm" },
			[]string{"table SymdistIngress.port_role.port_role is missing", "table MyIngress.ipv4_lpm is not symdist's"}},
		{"table renumbered and resized", func(i *p4configv1.P4Info) { i.Tables[1].Preamble.Id++; i.Tables[1].Size *= 2 },
			[]string{"table SymdistIngress.group_classifier.group_classifier differs in preamble id, size"}},
		{"parameter wider", func(i *p4configv1.P4Info) { i.Actions[1].Params[0].Bitwidth++ },
			[]string{"action SymdistIngress.port_role.set_port_role differs in params"}},
		{"counter gone", func(i *p4configv1.P4Info) { i.Counters = i.Counters[1:] },
			[]string{"counter SymdistIngress.tm_select.tm_counter is missing"}},
		{"architecture", func(i *p4configv1.P4Info) { i.PkgInfo.Arch = "tna" },
			[]string{`architecture "tna", not "v1model"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := proto.Clone(want).(*p4configv1.P4Info)
			tt.change(got)
			if d := cmp.Diff(tt.diff, Diff(want, got)); d != "" {
				t.Errorf("Diff (-want +got):\n%s", d)
			}
		})
	}
}
