// SPDX-License-Identifier: Apache-2.0

package p4info

import (
	"errors"
	"fmt"
)

// IDs holds every P4Info ID the Go code uses, resolved once from the names
// in names_generated.go.
type IDs struct {
	PortRole struct {
		Table, IngressPort, SetPortRole, Role uint32
	}
	GroupClassifier struct {
		Table, VLANID, IPVersion, IPSrc, IPDst, IPProto, SetGroup, GroupID uint32
	}
	TMAddressV4 struct{ Table, DstAddr uint32 }
	TMAddressV6 struct{ Table, DstAddr uint32 }
	BucketTable struct{ Table, GroupID, Bucket uint32 }
	BucketMask  struct {
		Table, GroupID, SetBucketMask, BucketMask uint32
	}
	DefaultTM struct{ Table, GroupID uint32 }
	SendToTM  struct {
		Action, TMID, Port, TMMAC uint32
	}
	TMMembers uint32
	L2Forward struct {
		Table, DstAddr, Forward, ForwardPort, Flood uint32
	}
	NoAction           uint32
	TMCounter          uint32
	SteerReasonCounter uint32
	DropCounter        uint32
	PacketOut          struct{ ID, EgressPort uint32 }
}

// resolver collects every name it cannot find, so one error lists them all.
type resolver struct {
	s    *Schema
	errs []error
}

func (r *resolver) id(name string) uint32 {
	id := r.s.ID(name)
	if id == 0 {
		r.errs = append(r.errs, fmt.Errorf("p4info: no entity named %q", name))
	}
	return id
}

func (r *resolver) field(table uint32, name string) uint32 {
	if t := r.s.Tables[table]; t != nil {
		if f := MatchField(t, name); f != nil {
			return f.GetId()
		}
		r.errs = append(r.errs, fmt.Errorf("p4info: table %q has no match field %q", t.GetPreamble().GetName(), name))
	}
	return 0
}

func (r *resolver) param(action uint32, name string) uint32 {
	if a := r.s.Actions[action]; a != nil {
		if p := Param(a, name); p != nil {
			return p.GetId()
		}
		r.errs = append(r.errs, fmt.Errorf("p4info: action %q has no parameter %q", a.GetPreamble().GetName(), name))
	}
	return 0
}

// Resolve finds every ID in IDs, or fails naming each one that is missing.
func (s *Schema) Resolve() (*IDs, error) {
	r := &resolver{s: s}
	ids := &IDs{}

	ids.PortRole.Table = r.id(TablePortRole)
	ids.PortRole.IngressPort = r.field(ids.PortRole.Table, FieldPortRoleIngressPort)
	ids.PortRole.SetPortRole = r.id(ActionSetPortRole)
	ids.PortRole.Role = r.param(ids.PortRole.SetPortRole, ParamSetPortRoleRole)

	gc := &ids.GroupClassifier
	gc.Table = r.id(TableGroupClassifier)
	gc.VLANID = r.field(gc.Table, FieldGroupClassifierVLANID)
	gc.IPVersion = r.field(gc.Table, FieldGroupClassifierIPVersion)
	gc.IPSrc = r.field(gc.Table, FieldGroupClassifierIPSrc)
	gc.IPDst = r.field(gc.Table, FieldGroupClassifierIPDst)
	gc.IPProto = r.field(gc.Table, FieldGroupClassifierIPProto)
	gc.SetGroup = r.id(ActionSetGroup)
	gc.GroupID = r.param(gc.SetGroup, ParamSetGroupGroupID)

	ids.TMAddressV4.Table = r.id(TableTMAddressV4)
	ids.TMAddressV4.DstAddr = r.field(ids.TMAddressV4.Table, FieldTMAddressV4DstAddr)
	ids.TMAddressV6.Table = r.id(TableTMAddressV6)
	ids.TMAddressV6.DstAddr = r.field(ids.TMAddressV6.Table, FieldTMAddressV6DstAddr)
	ids.BucketTable.Table = r.id(TableBucketTable)
	ids.BucketTable.GroupID = r.field(ids.BucketTable.Table, FieldBucketTableGroupID)
	ids.BucketTable.Bucket = r.field(ids.BucketTable.Table, FieldBucketTableBucket)
	ids.BucketMask.Table = r.id(TableBucketMask)
	ids.BucketMask.GroupID = r.field(ids.BucketMask.Table, FieldBucketMaskGroupID)
	ids.BucketMask.SetBucketMask = r.id(ActionSetBucketMask)
	ids.BucketMask.BucketMask = r.param(ids.BucketMask.SetBucketMask, ParamSetBucketMaskBucketMask)
	ids.DefaultTM.Table = r.id(TableDefaultTM)
	ids.DefaultTM.GroupID = r.field(ids.DefaultTM.Table, FieldDefaultTMGroupID)

	ids.SendToTM.Action = r.id(ActionSendToTM)
	ids.SendToTM.TMID = r.param(ids.SendToTM.Action, ParamSendToTMTMID)
	ids.SendToTM.Port = r.param(ids.SendToTM.Action, ParamSendToTMPort)
	ids.SendToTM.TMMAC = r.param(ids.SendToTM.Action, ParamSendToTMTMMAC)
	ids.TMMembers = r.id(ActionProfileTMMembers)

	ids.L2Forward.Table = r.id(TableL2Forward)
	ids.L2Forward.DstAddr = r.field(ids.L2Forward.Table, FieldL2ForwardDstAddr)
	ids.L2Forward.Forward = r.id(ActionForward)
	ids.L2Forward.ForwardPort = r.param(ids.L2Forward.Forward, ParamForwardPort)
	ids.L2Forward.Flood = r.id(ActionFlood)

	ids.NoAction = r.id(ActionNoAction)
	ids.TMCounter = r.id(CounterTMCounter)
	ids.SteerReasonCounter = r.id(CounterSteerReasonCounter)
	ids.DropCounter = r.id(CounterDropCounter)

	ids.PacketOut.ID = r.id(PacketMetadataPacketOut)
	for _, c := range s.Info.GetControllerPacketMetadata() {
		if c.GetPreamble().GetId() == ids.PacketOut.ID {
			for _, m := range c.GetMetadata() {
				if m.GetName() == MetadataPacketOutEgressPort {
					ids.PacketOut.EgressPort = m.GetId()
				}
			}
		}
	}
	if ids.PacketOut.ID != 0 && ids.PacketOut.EgressPort == 0 {
		r.errs = append(r.errs, fmt.Errorf("p4info: packet_out has no metadata %q", MetadataPacketOutEgressPort))
	}
	if len(r.errs) > 0 {
		return nil, errors.Join(r.errs...)
	}
	return ids, nil
}
