// SPDX-License-Identifier: Apache-2.0

package p4rtserver

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swmodel"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// SetForwardingPipelineConfig (spec §14) accepts only the symdist
// pipeline: a P4Info equivalent to the embedded one (see samePipeline) and
// a device config that is empty or the embedded bmv2 JSON. Every action is
// supported:
//   - VERIFY checks the config and changes nothing.
//   - VERIFY_AND_SAVE saves it; Read and Write work on it from then on
//     (creating the empty pipeline if there was none), state kept.
//   - VERIFY_AND_COMMIT saves it and clears all state.
//   - COMMIT commits the saved config, state kept: NOT_FOUND when nothing
//     was saved, INVALID_ARGUMENT when a config is given.
//   - RECONCILE_AND_COMMIT saves and commits it with the state kept, which
//     is always possible as the pipeline cannot change (e.g. a new cookie).
func (s *Server) SetForwardingPipelineConfig(_ context.Context, req *p4v1.SetForwardingPipelineConfigRequest) (*p4v1.SetForwardingPipelineConfigResponse, error) {
	if err := s.checkTarget(req.GetDeviceId(), req.GetRole()); err != nil {
		return nil, err
	}
	if err := s.checkPrimary(req.GetElectionId()); err != nil {
		return nil, err
	}
	cfg := req.GetConfig()
	action := req.GetAction()
	switch action {
	case p4v1.SetForwardingPipelineConfigRequest_VERIFY,
		p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_SAVE,
		p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT,
		p4v1.SetForwardingPipelineConfigRequest_RECONCILE_AND_COMMIT:
		if err := s.verify(cfg); err != nil {
			return nil, err
		}
	case p4v1.SetForwardingPipelineConfigRequest_COMMIT:
		if cfg != nil {
			return nil, status.Error(codes.InvalidArgument, "COMMIT takes no config: it commits the saved one")
		}
	default:
		return nil, status.Errorf(codes.InvalidArgument, "action %v", action)
	}

	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	switch action {
	case p4v1.SetForwardingPipelineConfigRequest_VERIFY:
		return &p4v1.SetForwardingPipelineConfigResponse{}, nil
	case p4v1.SetForwardingPipelineConfigRequest_COMMIT:
		if !s.saved {
			return nil, status.Error(codes.NotFound, "no saved config to commit (VERIFY_AND_SAVE first)")
		}
		s.saved = false
		s.log.Info("p4rtserver: pipeline config committed", "cookie", s.cfg.GetCookie().GetCookie())
		return &p4v1.SetForwardingPipelineConfigResponse{}, nil
	}
	reset := action == p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT
	if err := s.ensurePipeline(reset); err != nil {
		return nil, err
	}
	s.cfg = proto.Clone(cfg).(*p4v1.ForwardingPipelineConfig)
	s.saved = action == p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_SAVE
	s.log.Info("p4rtserver: pipeline config set", "action", action, "cookie", cfg.GetCookie().GetCookie(), "state_cleared", reset)
	return &p4v1.SetForwardingPipelineConfigResponse{}, nil
}

// ensurePipeline creates the pipeline, or resets it when reset is set.
// s.cfgMu must be held.
func (s *Server) ensurePipeline(reset bool) error {
	if p := s.pipe.Load(); p != nil {
		if reset {
			p.Reset()
		}
		return nil
	}
	p, err := swmodel.New(s.schema)
	if err != nil {
		return status.Errorf(codes.Internal, "building the pipeline: %v", err)
	}
	s.pipe.Store(p)
	return nil
}

// verify checks that cfg is this pipeline's.
func (s *Server) verify(cfg *p4v1.ForwardingPipelineConfig) error {
	if cfg == nil {
		return status.Error(codes.InvalidArgument, "no config")
	}
	if cfg.GetP4Info() == nil {
		return status.Error(codes.InvalidArgument, "the config has no p4info")
	}
	if err := samePipeline(s.want, canonicalP4Info(cfg.GetP4Info())); err != nil {
		return status.Errorf(codes.InvalidArgument, "the p4info is not the symdist pipeline's: %v", err)
	}
	if d := cfg.GetP4DeviceConfig(); len(d) != 0 && !bytes.Equal(d, p4info.BMv2JSON()) {
		return status.Error(codes.InvalidArgument, "p4_device_config is neither empty nor the symdist pipeline's bmv2 JSON")
	}
	return nil
}

// GetForwardingPipelineConfig returns the config last saved or committed,
// as it was set, with the fields response_type asks for. Before any, the
// response has no config (spec §15).
func (s *Server) GetForwardingPipelineConfig(_ context.Context, req *p4v1.GetForwardingPipelineConfigRequest) (*p4v1.GetForwardingPipelineConfigResponse, error) {
	if d := req.GetDeviceId(); d != s.deviceID {
		return nil, status.Errorf(codes.NotFound, "unknown device_id %d (this is device %d)", d, s.deviceID)
	}
	rt := req.GetResponseType()
	switch rt {
	case p4v1.GetForwardingPipelineConfigRequest_ALL,
		p4v1.GetForwardingPipelineConfigRequest_COOKIE_ONLY,
		p4v1.GetForwardingPipelineConfigRequest_P4INFO_AND_COOKIE,
		p4v1.GetForwardingPipelineConfigRequest_DEVICE_CONFIG_AND_COOKIE:
	default:
		return nil, status.Errorf(codes.InvalidArgument, "response_type %v", rt)
	}
	s.cfgMu.Lock()
	cfg := s.cfg
	s.cfgMu.Unlock()
	resp := &p4v1.GetForwardingPipelineConfigResponse{}
	if cfg == nil {
		return resp, nil
	}
	// cfg is never changed once stored; the response gets copies.
	out := &p4v1.ForwardingPipelineConfig{}
	if c := cfg.GetCookie(); c != nil {
		out.Cookie = &p4v1.ForwardingPipelineConfig_Cookie{Cookie: c.GetCookie()}
	}
	if rt == p4v1.GetForwardingPipelineConfigRequest_ALL || rt == p4v1.GetForwardingPipelineConfigRequest_P4INFO_AND_COOKIE {
		out.P4Info = proto.Clone(cfg.GetP4Info()).(*p4configv1.P4Info)
	}
	if rt == p4v1.GetForwardingPipelineConfigRequest_ALL || rt == p4v1.GetForwardingPipelineConfigRequest_DEVICE_CONFIG_AND_COOKIE {
		out.P4DeviceConfig = slices.Clone(cfg.GetP4DeviceConfig())
	}
	resp.Config = out
	return resp, nil
}

// cosmetic are the P4Info fields that do not change the pipeline: two
// compilations may differ in them.
var cosmetic = map[protoreflect.Name]bool{
	"alias": true, "annotations": true, "annotation_locations": true,
	"structured_annotations": true, "doc": true,
}

// canonicalP4Info returns a copy of info without pkg_info and the
// cosmetic fields, every repeated message sorted by ID.
func canonicalP4Info(info *p4configv1.P4Info) *p4configv1.P4Info {
	c := proto.Clone(info).(*p4configv1.P4Info)
	c.PkgInfo = nil
	canonicalize(c.ProtoReflect())
	return c
}

func canonicalize(m protoreflect.Message) {
	var drop []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case cosmetic[fd.Name()]:
			drop = append(drop, fd)
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					canonicalize(mv.Message())
					return true
				})
			}
		case fd.Message() == nil:
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				canonicalize(l.Get(i).Message())
			}
			sortByID(l)
		default:
			canonicalize(v.Message())
		}
		return true
	})
	for _, fd := range drop {
		m.Clear(fd)
	}
}

// idOf returns the P4Info ID of m: its id field, or its preamble's.
func idOf(m protoreflect.Message) (uint32, bool) {
	fields := m.Descriptor().Fields()
	if fd := fields.ByName("id"); fd != nil && fd.Kind() == protoreflect.Uint32Kind {
		return uint32(m.Get(fd).Uint()), true
	}
	if fd := fields.ByName("preamble"); fd != nil && fd.Message() != nil {
		return idOf(m.Get(fd).Message())
	}
	return 0, false
}

func nameOf(m protoreflect.Message) string {
	fields := m.Descriptor().Fields()
	if fd := fields.ByName("name"); fd != nil && fd.Kind() == protoreflect.StringKind {
		return m.Get(fd).String()
	}
	if fd := fields.ByName("preamble"); fd != nil && fd.Message() != nil {
		return nameOf(m.Get(fd).Message())
	}
	return ""
}

func sortByID(l protoreflect.List) {
	if l.Len() < 2 {
		return
	}
	if _, ok := idOf(l.Get(0).Message()); !ok {
		return
	}
	vs := make([]protoreflect.Value, l.Len())
	for i := range vs {
		vs[i] = l.Get(i)
	}
	slices.SortStableFunc(vs, func(a, b protoreflect.Value) int {
		x, _ := idOf(a.Message())
		y, _ := idOf(b.Message())
		return cmp.Compare(x, y)
	})
	for i, v := range vs {
		l.Set(i, v)
	}
}

// samePipeline compares two canonical P4Infos and names the first entity
// in which they differ.
func samePipeline(want, got *p4configv1.P4Info) error {
	if proto.Equal(want, got) {
		return nil
	}
	wm, gm := want.ProtoReflect(), got.ProtoReflect()
	fields := wm.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !fd.IsList() || fd.Message() == nil {
			continue
		}
		if err := diffList(fd.Name(), wm.Get(fd).List(), gm.Get(fd).List()); err != nil {
			return err
		}
	}
	return errors.New("it differs outside its entities (e.g. type_info)")
}

func diffList(field protoreflect.Name, want, got protoreflect.List) error {
	kind := strings.ReplaceAll(strings.TrimSuffix(string(field), "s"), "_", " ")
	byID := func(l protoreflect.List) (map[uint32]protoreflect.Message, []uint32, bool) {
		m := map[uint32]protoreflect.Message{}
		var order []uint32
		for i := range l.Len() {
			id, ok := idOf(l.Get(i).Message())
			if !ok {
				return nil, nil, false
			}
			m[id] = l.Get(i).Message()
			order = append(order, id)
		}
		return m, order, true
	}
	wantBy, wantOrder, ok1 := byID(want)
	gotBy, gotOrder, ok2 := byID(got)
	if !ok1 || !ok2 {
		if !listEqual(want, got) {
			return fmt.Errorf("its %s differ", field)
		}
		return nil
	}
	for _, id := range wantOrder {
		g, ok := gotBy[id]
		switch {
		case !ok:
			return fmt.Errorf("%s %q (ID %d) is missing", kind, nameOf(wantBy[id]), id)
		case !proto.Equal(wantBy[id].Interface(), g.Interface()):
			return fmt.Errorf("%s %q (ID %d) differs", kind, nameOf(wantBy[id]), id)
		}
	}
	for _, id := range gotOrder {
		if _, ok := wantBy[id]; !ok {
			return fmt.Errorf("%s %q (ID %d) is not in this pipeline", kind, nameOf(gotBy[id]), id)
		}
	}
	if len(wantOrder) != len(gotOrder) {
		return fmt.Errorf("its %s have duplicate IDs", field)
	}
	return nil
}

func listEqual(a, b protoreflect.List) bool {
	if a.Len() != b.Len() {
		return false
	}
	for i := range a.Len() {
		if !proto.Equal(a.Get(i).Message().Interface(), b.Get(i).Message().Interface()) {
			return false
		}
	}
	return true
}
