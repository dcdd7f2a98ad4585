// SPDX-License-Identifier: Apache-2.0

package p4info

import (
	"errors"
	"fmt"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	"google.golang.org/protobuf/proto"
)

// PortURI is the P4Runtime translation URI of a Tofino port
// (@p4runtime_translation("tna/PortId_t", 32)): Stratum's kUriTnaPortId,
// the only URI its translator knows.
const PortURI = "tna/PortId_t"

// Ports is how a P4Info types the fields that carry a port number:
// port_role's key ingress_port, the port parameters of send_to_tm and
// forward, and packet_out's egress_port. The controller writes a port in
// Bytes() bytes, the width the P4Info gives these fields; it reads every
// P4Info it pushes or finds on a switch with ResolvePorts.
//
// The bmv2 build's port_num_t is a plain bit<9>: Bits 9, no translation.
// The Tofino build's is a translated type (p4src/include/port.p4): the
// P4Info gives the fields the SDN bitwidth, 32, their type_name names
// port_num_t, and type_info.new_types maps it to the URI tna/PortId_t. A
// P4Runtime server that translates (Stratum, with
// --experimental_enable_p4runtime_translation) then takes SDN port numbers
// in these fields, up to 32 bits, and writes the device's own.
type Ports struct {
	// Bits is the P4Info bitwidth of every port field (the SDN bitwidth
	// when translated).
	Bits int32
	// TypeName is the P4 type the fields name (type_name), "" when the
	// P4Info names none (a typedef).
	TypeName string
	// Translation is the URI of that type's p4runtime_translation
	// (PortURI), "" when the type is not translated.
	Translation string
}

// BuiltinPorts is the embedded (bmv2) P4Info's: 9 bits, untranslated.
// An entries.Builder with zero Ports writes ports this way.
var BuiltinPorts = Ports{Bits: 9}

// Translated reports whether a translating server maps these ports.
func (p Ports) Translated() bool { return p.Translation != "" }

// Bytes is how many bytes a port is written in: ceil(Bits/8), the padded
// form of P4Runtime's bytestrings (spec section 8.3).
func (p Ports) Bytes() int { return int(p.Bits+7) / 8 }

// Max is the largest port number the fields hold.
func (p Ports) Max() uint64 { return 1<<uint(p.Bits) - 1 }

func (p Ports) String() string {
	if p.Translated() {
		return fmt.Sprintf("%d bits, type %s translated as %s", p.Bits, p.TypeName, p.Translation)
	}
	if p.TypeName != "" {
		return fmt.Sprintf("%d bits, type %s", p.Bits, p.TypeName)
	}
	return fmt.Sprintf("%d bits", p.Bits)
}

// portField is one field that carries a port, as the P4Info declares it.
type portField struct {
	what     string
	bitwidth int32
	typeName string
}

// ResolvePorts reads how s types its port fields, which must all agree
// (one width for every port the controller writes). A translated type
// must have the URI PortURI and an SDN bitwidth equal to the fields'
// bitwidth, and hold at least the 9 bits of a device port.
func (s *Schema) ResolvePorts() (Ports, error) {
	var fields []portField
	var errs []error
	table := func(tableName, field string) {
		t := s.Tables[s.ID(tableName)]
		if f := MatchField(t, field); f != nil {
			fields = append(fields, portField{tableName + " key " + field, f.GetBitwidth(), f.GetTypeName().GetName()})
		} else {
			errs = append(errs, fmt.Errorf("p4info: no match field %s of %s", field, tableName))
		}
	}
	param := func(action, name string) {
		a := s.Actions[s.ID(action)]
		if p := Param(a, name); p != nil {
			fields = append(fields, portField{action + " parameter " + name, p.GetBitwidth(), p.GetTypeName().GetName()})
		} else {
			errs = append(errs, fmt.Errorf("p4info: no parameter %s of %s", name, action))
		}
	}
	table(TablePortRole, FieldPortRoleIngressPort)
	param(ActionSendToTM, ParamSendToTMPort)
	param(ActionForward, ParamForwardPort)
	found := false
	for _, c := range s.Info.GetControllerPacketMetadata() {
		if c.GetPreamble().GetName() != PacketMetadataPacketOut {
			continue
		}
		for _, m := range c.GetMetadata() {
			if m.GetName() == MetadataPacketOutEgressPort {
				found = true
				fields = append(fields, portField{"packet_out metadata " + m.GetName(), m.GetBitwidth(), m.GetTypeName().GetName()})
			}
		}
	}
	if !found {
		errs = append(errs, fmt.Errorf("p4info: no packet_out metadata %s", MetadataPacketOutEgressPort))
	}
	if len(errs) > 0 {
		return Ports{}, errors.Join(errs...)
	}
	first := fields[0]
	for _, f := range fields[1:] {
		if f.bitwidth != first.bitwidth || f.typeName != first.typeName {
			return Ports{}, fmt.Errorf("p4info: the port fields differ: %s is %d bits of type %q, %s %d bits of type %q (the controller writes one port format)",
				first.what, first.bitwidth, first.typeName, f.what, f.bitwidth, f.typeName)
		}
	}
	p := Ports{Bits: first.bitwidth, TypeName: first.typeName}
	if p.TypeName != "" {
		nt, ok := s.Info.GetTypeInfo().GetNewTypes()[p.TypeName]
		if !ok {
			return Ports{}, fmt.Errorf("p4info: the port fields name type %s, which type_info.new_types does not declare", p.TypeName)
		}
		if tr := nt.GetTranslatedType(); tr != nil {
			p.Translation = tr.GetUri()
			switch {
			case tr.GetUri() != PortURI:
				return Ports{}, fmt.Errorf("p4info: port type %s is translated as %q; the port translation servers know is %q", p.TypeName, tr.GetUri(), PortURI)
			case tr.GetSdnString() != nil || tr.GetSdnBitwidth() == 0:
				return Ports{}, fmt.Errorf("p4info: port type %s is translated to a string; symdist writes ports as numbers (sdn_bitwidth)", p.TypeName)
			case tr.GetSdnBitwidth() != p.Bits:
				return Ports{}, fmt.Errorf("p4info: port type %s has sdn_bitwidth %d but its fields %d bits", p.TypeName, tr.GetSdnBitwidth(), p.Bits)
			}
		}
	}
	if p.Bits < 9 || p.Bits > 32 {
		return Ports{}, fmt.Errorf("p4info: port fields of %d bits; symdist writes ports of 9 to 32 bits", p.Bits)
	}
	return p, nil
}

// PortTypeName is the P4 type of symdist's ports (p4src/include/port.p4).
const PortTypeName = "port_num_t"

// TranslatedPorts returns a copy of info (the bmv2 build's) with its port
// fields as the Tofino build declares them: 32 bits, type_name
// port_num_t, and type_info mapping port_num_t to PortURI with
// sdn_bitwidth 32. This is the whole difference p4c makes between the
// two builds' P4Infos (TestTofinoSourceP4Info), and the P4Info tests of
// the controller's encoding use.
func TranslatedPorts(info *p4configv1.P4Info) *p4configv1.P4Info {
	out := proto.Clone(info).(*p4configv1.P4Info)
	const bits = 32
	typed := func(bw *int32, tn **p4configv1.P4NamedType) {
		*bw, *tn = bits, &p4configv1.P4NamedType{Name: PortTypeName}
	}
	for _, t := range out.GetTables() {
		if t.GetPreamble().GetName() == TablePortRole {
			if f := MatchField(t, FieldPortRoleIngressPort); f != nil {
				typed(&f.Bitwidth, &f.TypeName)
			}
		}
	}
	for _, a := range out.GetActions() {
		var p *p4configv1.Action_Param
		switch a.GetPreamble().GetName() {
		case ActionSendToTM:
			p = Param(a, ParamSendToTMPort)
		case ActionForward:
			p = Param(a, ParamForwardPort)
		}
		if p != nil {
			typed(&p.Bitwidth, &p.TypeName)
		}
	}
	for _, c := range out.GetControllerPacketMetadata() {
		if c.GetPreamble().GetName() != PacketMetadataPacketOut {
			continue
		}
		for _, m := range c.GetMetadata() {
			if m.GetName() == MetadataPacketOutEgressPort {
				typed(&m.Bitwidth, &m.TypeName)
			}
		}
	}
	if out.TypeInfo == nil {
		out.TypeInfo = &p4configv1.P4TypeInfo{}
	}
	if out.TypeInfo.NewTypes == nil {
		out.TypeInfo.NewTypes = map[string]*p4configv1.P4NewTypeSpec{}
	}
	out.TypeInfo.NewTypes[PortTypeName] = &p4configv1.P4NewTypeSpec{Representation: &p4configv1.P4NewTypeSpec_TranslatedType{
		TranslatedType: &p4configv1.P4NewTypeTranslation{Uri: PortURI, SdnType: &p4configv1.P4NewTypeTranslation_SdnBitwidth{SdnBitwidth: bits}}}}
	return out
}
