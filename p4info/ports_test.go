// SPDX-License-Identifier: Apache-2.0

package p4info

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
)

// ResolvePorts on the two builds' P4Infos and on P4Infos that type their
// ports in ways the controller cannot write.
func TestResolvePorts(t *testing.T) {
	bmv2 := MustLoad().Info
	tofino := TranslatedPorts(bmv2)
	// edit returns a copy of the Tofino P4Info changed by f.
	edit := func(f func(*Schema)) *p4configv1.P4Info {
		s, err := NewSchema(TranslatedPorts(bmv2))
		if err != nil {
			t.Fatal(err)
		}
		f(s)
		return s.Info
	}
	forward := func(s *Schema) *p4configv1.Action_Param {
		return Param(s.Actions[s.ID(ActionForward)], ParamForwardPort)
	}
	newType := func(s *Schema) *p4configv1.P4NewTypeTranslation {
		return s.Info.TypeInfo.NewTypes[PortTypeName].GetTranslatedType()
	}
	for _, tc := range []struct {
		name    string
		info    *p4configv1.P4Info
		want    Ports
		wantErr string
	}{
		{name: "bmv2", info: bmv2, want: Ports{Bits: 9}},
		{name: "tofino", info: tofino, want: Ports{Bits: 32, TypeName: "port_num_t", Translation: "tna/PortId_t"}},
		{name: "a new type without translation", info: edit(func(s *Schema) {
			s.Info.TypeInfo.NewTypes[PortTypeName].Representation = &p4configv1.P4NewTypeSpec_OriginalType{
				OriginalType: &p4configv1.P4DataTypeSpec{TypeSpec: &p4configv1.P4DataTypeSpec_Bitstring{}}}
		}), want: Ports{Bits: 32, TypeName: "port_num_t"}},
		{name: "one field untranslated", info: edit(func(s *Schema) {
			p := forward(s)
			p.Bitwidth, p.TypeName = 9, nil
		}), wantErr: "port fields differ"},
		{name: "another URI", info: edit(func(s *Schema) { newType(s).Uri = "psa/PortId_t" }), wantErr: `"psa/PortId_t"`},
		{name: "string translation", info: edit(func(s *Schema) {
			newType(s).SdnType = &p4configv1.P4NewTypeTranslation_SdnString_{SdnString: &p4configv1.P4NewTypeTranslation_SdnString{}}
		}), wantErr: "to a string"},
		{name: "sdn_bitwidth not the fields'", info: edit(func(s *Schema) {
			newType(s).SdnType = &p4configv1.P4NewTypeTranslation_SdnBitwidth{SdnBitwidth: 16}
		}), wantErr: "sdn_bitwidth 16"},
		{name: "type not declared", info: edit(func(s *Schema) { s.Info.TypeInfo = nil }), wantErr: "does not declare"},
		{name: "no packet_out", info: edit(func(s *Schema) { s.Info.ControllerPacketMetadata = nil }), wantErr: "no packet_out metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSchema(tc.info)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.ResolvePorts()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ResolvePorts: %v (%v), want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ResolvePorts (-want +got):\n%s", diff)
			}
		})
	}
}

// The bytes a port is written in, by width.
func TestPortsBytes(t *testing.T) {
	for _, tc := range []struct {
		p     Ports
		bytes int
		max   uint64
	}{
		{BuiltinPorts, 2, 511},
		{Ports{Bits: 32, TypeName: PortTypeName, Translation: PortURI}, 4, 1<<32 - 1},
		{Ports{Bits: 16}, 2, 65535},
	} {
		if got := tc.p.Bytes(); got != tc.bytes {
			t.Errorf("%v: Bytes %d, want %d", tc.p, got, tc.bytes)
		}
		if got := tc.p.Max(); got != tc.max {
			t.Errorf("%v: Max %d, want %d", tc.p, got, tc.max)
		}
	}
}
