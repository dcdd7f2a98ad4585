// SPDX-License-Identifier: Apache-2.0

package verify

import (
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swmodel"
	"google.golang.org/protobuf/proto"
)

// verify takes a switch running the built-in P4Info or the Tofino
// build's (ports translated), and nothing else.
func TestProgramPorts(t *testing.T) {
	builtin := p4info.MustLoad()
	translated := p4info.TranslatedPorts(builtin.Info)
	renamed := proto.Clone(translated).(*p4configv1.P4Info)
	renamed.Tables[0].Preamble.Name = "SomeoneElse.table"
	halfTranslated := proto.Clone(builtin.Info).(*p4configv1.P4Info)
	halfTranslated.TypeInfo = translated.TypeInfo
	for _, tc := range []struct {
		name    string
		info    *p4configv1.P4Info
		want    p4info.Ports
		wantErr string
	}{
		{"built-in", builtin.Info, p4info.BuiltinPorts, ""},
		{"tofino, translated", translated, p4info.Ports{Bits: 32, TypeName: p4info.PortTypeName, Translation: p4info.PortURI}, ""},
		{"tofino with another table", renamed, p4info.Ports{}, "SomeoneElse.table"},
		{"a type_info the fields do not use", halfTranslated, p4info.Ports{}, "differences from symdist's P4Info"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := programPorts(builtin, tc.info)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("programPorts: %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ports (-want +got):\n%s", diff)
			}
		})
	}
}

// translatedBuilder builds entries with the Tofino build's ports: the
// built-in P4Info with its port fields translated to 32 bits.
func translatedBuilder(t *testing.T) (entries.Builder, p4info.Ports) {
	t.Helper()
	builtin := p4info.MustLoad()
	ids, _ := builtin.Resolve()
	tofino, _ := p4info.NewSchema(p4info.TranslatedPorts(builtin.Info))
	ports, err := tofino.ResolvePorts()
	if err != nil {
		t.Fatal(err)
	}
	return entries.Builder{IDs: ids, Ports: ports}, ports
}

// Ports read back from a switch decode the same whatever the width they
// come in: the Tofino build's 4-byte singleton port ids, padded (as
// written, not canonical), make the same profile as the canonical ones.
func TestProfileTranslatedPorts(t *testing.T) {
	b, ports := translatedBuilder(t)
	host := net.HardwareAddr{2, 0, 0, 0, 0, 9}
	state := func() []*p4v1.Entity {
		return []*p4v1.Entity{
			b.PortRole(1000, uint8(swmodel.RoleEdge)),
			b.PortRole(1001, uint8(swmodel.RoleEdge)),
			b.PortRole(40000, uint8(swmodel.RoleTM)),
			b.L2Forward(host, 1001),
		}
	}
	padded := state()
	if v := padded[0].GetTableEntry().GetMatch()[0].GetExact().GetValue(); len(v) != 4 {
		t.Fatalf("the translated port_role key is %x, want 4 bytes", v)
	}
	canonical := state()
	for _, e := range canonical {
		entries.Canonicalize(e)
	}
	cabled := map[uint16]bool{1000: true, 1001: true, 40000: true}
	for name, es := range map[string][]*p4v1.Entity{"padded": padded, "canonical": canonical} {
		p, err := Profile(&Snapshot{Name: "sw", Entities: es, Ports: ports}, cabled)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.ClientPort != 1000 || p.ServerPort != 1001 || !cmp.Equal(p.TMPorts, []uint16{40000}) || p.BridgeMAC.String() != host.String() {
			t.Errorf("%s: profile client %d server %d TMs %v bridge %v, want 1000 1001 [40000] %v", name, p.ClientPort, p.ServerPort, p.TMPorts, p.BridgeMAC, host)
		}
	}
}

// The state check loads a switch's entries into the model (a device of
// 9-bit ports) only when its ports are not translated: singleton port ids
// past 9 bits are no finding on a switch whose ports are translated, and
// are one on a switch whose P4Info gives them 9 bits.
func TestCheckTranslatedPortsModel(t *testing.T) {
	b, ports := translatedBuilder(t)
	es := []*p4v1.Entity{
		entries.Canonicalize(b.PortRole(1000, uint8(swmodel.RoleEdge))),
		entries.Canonicalize(b.PortRole(40000, uint8(swmodel.RoleTM))),
	}
	for _, tc := range []struct {
		name  string
		ports p4info.Ports
		model bool // a "model" finding
	}{
		{"translated", ports, false},
		{"built-in", p4info.BuiltinPorts, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(Expect{}, []*Snapshot{{Name: "sw", Entities: es, Ports: tc.ports}})
			found := false
			for _, f := range r.Problems {
				if f.Check == "model" {
					found = true
				}
			}
			if found != tc.model {
				t.Errorf("a model finding: %v, want %v; report %+v", found, tc.model, r)
			}
		})
	}
}
