// SPDX-License-Identifier: Apache-2.0

package entries

import (
	"bytes"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/p4info"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// The bytes of a write request a Builder makes, for the built-in P4Info
// (port fields of 9 bits: a port in 2 bytes) and the Tofino build's
// (translated, 32 bits: 4 bytes), written from p4runtime.proto's field
// numbers: WriteRequest.updates 4; Update.type 1, entity 2;
// Entity.table_entry 2; TableEntry.table_id 1, match 2, action 3;
// FieldMatch.field_id 1, exact 2; Exact.value 1; TableAction.action 1;
// Action.action_id 1, params 4; Param.param_id 2, value 3.
func TestPortBytes(t *testing.T) {
	schema := p4info.MustLoad()
	ids, err := schema.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	tofino, err := p4info.NewSchema(p4info.TranslatedPorts(schema.Info))
	if err != nil {
		t.Fatal(err)
	}
	tofinoPorts, err := tofino.ResolvePorts()
	if err != nil {
		t.Fatal(err)
	}
	msg := func(num protowire.Number, parts ...[]byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), bytes.Join(parts, nil))
	}
	varint := func(num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
	}
	// portRole is the request inserting port_role {port: role 1} with
	// the port written as port.
	portRole := func(port []byte) []byte {
		entity := msg(2, // Entity.table_entry
			varint(1, uint64(ids.PortRole.Table)),
			msg(2, varint(1, uint64(ids.PortRole.IngressPort)), msg(2, msg(1, port))),
			msg(3, msg(1, varint(1, uint64(ids.PortRole.SetPortRole)), msg(4, varint(2, uint64(ids.PortRole.Role)), msg(3, []byte{1})))))
		return msg(4, varint(1, uint64(p4v1.Update_INSERT)), msg(2, entity))
	}
	for _, tc := range []struct {
		name  string
		ports p4info.Ports
		port  uint16
		want  []byte
	}{
		{"zero Ports: the built-in's", p4info.Ports{}, 300, portRole([]byte{0x01, 0x2c})},
		{"built-in, 9 bits", p4info.BuiltinPorts, 300, portRole([]byte{0x01, 0x2c})},
		{"translated, 32 bits", tofinoPorts, 300, portRole([]byte{0, 0, 0x01, 0x2c})},
		{"translated, a singleton port id past 9 bits", tofinoPorts, 40000, portRole([]byte{0, 0, 0x9c, 0x40})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := Builder{IDs: ids, Ports: tc.ports}
			req := &p4v1.WriteRequest{Updates: Inserts(b.PortRole(tc.port, 1))}
			got, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("write request\n got %x\nwant %x", got, tc.want)
			}
		})
	}
}

// Every port a Builder writes, and only ports, takes the P4Info's width;
// canonical, the two builds' entities are the same.
func TestPortFields(t *testing.T) {
	schema := p4info.MustLoad()
	ids, _ := schema.Resolve()
	tofino, _ := p4info.NewSchema(p4info.TranslatedPorts(schema.Info))
	tofinoPorts, err := tofino.ResolvePorts()
	if err != nil {
		t.Fatal(err)
	}
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	tm := TM{ID: 7, Port: 300, MAC: mac}
	for _, tc := range []struct {
		name string
		make func(Builder) *p4v1.Entity
		// port returns where the entity holds the port.
		port func(*p4v1.Entity) []byte
	}{
		{"port_role", func(b Builder) *p4v1.Entity { return b.PortRole(300, 1) },
			func(e *p4v1.Entity) []byte { return e.GetTableEntry().GetMatch()[0].GetExact().GetValue() }},
		{"l2_forward", func(b Builder) *p4v1.Entity { return b.L2Forward(mac, 300) },
			func(e *p4v1.Entity) []byte {
				return e.GetTableEntry().GetAction().GetAction().GetParams()[0].GetValue()
			}},
		{"member", func(b Builder) *p4v1.Entity { return b.Member(7, tm) },
			func(e *p4v1.Entity) []byte { return e.GetActionProfileMember().GetAction().GetParams()[1].GetValue() }},
		{"default_tm", func(b Builder) *p4v1.Entity { return b.DefaultTM(1, tm) },
			func(e *p4v1.Entity) []byte {
				return e.GetTableEntry().GetAction().GetAction().GetParams()[1].GetValue()
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bmv2 := tc.make(Builder{IDs: ids})
			tof := tc.make(Builder{IDs: ids, Ports: tofinoPorts})
			if got := tc.port(bmv2); !bytes.Equal(got, []byte{0x01, 0x2c}) {
				t.Errorf("built-in port %x, want 012c", got)
			}
			if got := tc.port(tof); !bytes.Equal(got, []byte{0, 0, 0x01, 0x2c}) {
				t.Errorf("translated port %x, want 0000012c", got)
			}
			if diff := cmp.Diff(Canonicalize(bmv2), Canonicalize(tof), protocmp.Transform()); diff != "" {
				t.Errorf("canonical entities differ (-built-in +translated):\n%s", diff)
			}
		})
	}
}
