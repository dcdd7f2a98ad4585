// SPDX-License-Identifier: Apache-2.0

package p4rtserver_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

const (
	verify          = p4v1.SetForwardingPipelineConfigRequest_VERIFY
	verifyAndSave   = p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_SAVE
	verifyAndCommit = p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT
	commitSaved     = p4v1.SetForwardingPipelineConfigRequest_COMMIT
	reconcile       = p4v1.SetForwardingPipelineConfigRequest_RECONCILE_AND_COMMIT
)

func (h *harness) getConfig(rt p4v1.GetForwardingPipelineConfigRequest_ResponseType) *p4v1.ForwardingPipelineConfig {
	h.t.Helper()
	resp, err := h.cli.GetForwardingPipelineConfig(ctx(h.t), &p4v1.GetForwardingPipelineConfigRequest{DeviceId: deviceID, ResponseType: rt})
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.GetConfig()
}

func (h *harness) tableEntries() int {
	h.t.Helper()
	es, _, err := h.readAll(&p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{}}})
	if err != nil {
		h.t.Fatal(err)
	}
	return len(es)
}

func withCookie(c uint64) *p4v1.ForwardingPipelineConfig {
	cfg := pipelineConfig()
	cfg.Cookie.Cookie = c
	return cfg
}

// Get before any Set: a response with no config (spec §15), not an error.
func TestGetConfigBeforeAny(t *testing.T) {
	h := newHarness(t)
	if cfg := h.getConfig(p4v1.GetForwardingPipelineConfigRequest_ALL); cfg != nil {
		t.Errorf("config %v before any was set, want none", cfg)
	}
	if h.srv.Pipeline() != nil {
		t.Error("a pipeline before any config was set")
	}
}

// The cookie, P4Info and device config read back as set, for each
// response type.
func TestGetConfigResponseTypes(t *testing.T) {
	h := newHarness(t)
	h.primary(1)
	set := pipelineConfig()
	if err := h.setConfig(eid(1), verifyAndCommit, set); err != nil {
		t.Fatal(err)
	}
	cookie := &p4v1.ForwardingPipelineConfig_Cookie{Cookie: p4info.Cookie()}
	for rt, want := range map[p4v1.GetForwardingPipelineConfigRequest_ResponseType]*p4v1.ForwardingPipelineConfig{
		p4v1.GetForwardingPipelineConfigRequest_ALL:                      set,
		p4v1.GetForwardingPipelineConfigRequest_COOKIE_ONLY:              {Cookie: cookie},
		p4v1.GetForwardingPipelineConfigRequest_P4INFO_AND_COOKIE:        {P4Info: set.P4Info, Cookie: cookie},
		p4v1.GetForwardingPipelineConfigRequest_DEVICE_CONFIG_AND_COOKIE: {P4DeviceConfig: set.P4DeviceConfig, Cookie: cookie},
	} {
		if diff := cmp.Diff(want, h.getConfig(rt), protocmp.Transform()); diff != "" {
			t.Errorf("%v (-want +got):\n%s", rt, diff)
		}
	}

	// No cookie set, none read back; an empty device config is fine.
	noCookie := &p4v1.ForwardingPipelineConfig{P4Info: p4info.MustLoad().Info}
	if err := h.setConfig(eid(1), verifyAndCommit, noCookie); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(noCookie, h.getConfig(p4v1.GetForwardingPipelineConfigRequest_ALL), protocmp.Transform()); diff != "" {
		t.Errorf("without cookie (-want +got):\n%s", diff)
	}

	for _, c := range []struct {
		name string
		req  *p4v1.GetForwardingPipelineConfigRequest
		want codes.Code
	}{
		{"wrong device", &p4v1.GetForwardingPipelineConfigRequest{DeviceId: deviceID + 1}, codes.NotFound},
		{"unknown response type", &p4v1.GetForwardingPipelineConfigRequest{DeviceId: deviceID, ResponseType: 42}, codes.InvalidArgument},
	} {
		if _, err := h.cli.GetForwardingPipelineConfig(ctx(t), c.req); status.Code(err) != c.want {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

// VERIFY changes nothing; VERIFY_AND_COMMIT clears the state and keeps the
// same Pipeline.
func TestSetConfigVerifyAndCommit(t *testing.T) {
	h, _ := ready(t)
	p := h.srv.Pipeline()
	n := h.tableEntries()
	if n == 0 {
		t.Fatal("the fixture wrote no table entries")
	}
	if err := h.setConfig(eid(1), verify, withCookie(99)); err != nil {
		t.Fatal(err)
	}
	if got := h.tableEntries(); got != n {
		t.Errorf("VERIFY changed the state: %d entries, want %d", got, n)
	}
	if c := h.getConfig(p4v1.GetForwardingPipelineConfigRequest_COOKIE_ONLY).GetCookie().GetCookie(); c != p4info.Cookie() {
		t.Errorf("VERIFY changed the cookie to %d", c)
	}
	if err := h.setConfig(eid(1), verifyAndCommit, withCookie(99)); err != nil {
		t.Fatal(err)
	}
	if got := h.tableEntries(); got != 0 {
		t.Errorf("VERIFY_AND_COMMIT left %d table entries", got)
	}
	if c := h.getConfig(p4v1.GetForwardingPipelineConfigRequest_COOKIE_ONLY).GetCookie().GetCookie(); c != 99 {
		t.Errorf("cookie %d after VERIFY_AND_COMMIT, want 99", c)
	}
	if h.srv.Pipeline() != p {
		t.Error("VERIFY_AND_COMMIT replaced the Pipeline instead of resetting it")
	}
}

// VERIFY_AND_SAVE then COMMIT, and RECONCILE_AND_COMMIT, keep the state.
func TestSetConfigSaveCommitReconcile(t *testing.T) {
	h := newHarness(t)
	h.primary(1)
	wantCode(t, "COMMIT with nothing saved", h.setConfig(eid(1), commitSaved, nil), codes.NotFound)
	if err := h.setConfig(eid(1), verifyAndSave, withCookie(1)); err != nil {
		t.Fatal(err)
	}
	if h.srv.Pipeline() == nil {
		t.Fatal("no pipeline after VERIFY_AND_SAVE")
	}
	pr := entries.Update(p4v1.Update_INSERT, entries.Builder{IDs: h.ids}.PortRole(40, 1))
	if err := h.write(eid(1), pr); err != nil {
		t.Fatalf("write after VERIFY_AND_SAVE: %v", err)
	}
	wantCode(t, "COMMIT with a config", h.setConfig(eid(1), commitSaved, pipelineConfig()), codes.InvalidArgument)
	if err := h.setConfig(eid(1), commitSaved, nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "second COMMIT", h.setConfig(eid(1), commitSaved, nil), codes.NotFound)
	if n := h.tableEntries(); n != 1 {
		t.Errorf("%d table entries after COMMIT, want the 1 written", n)
	}
	if err := h.setConfig(eid(1), reconcile, withCookie(2)); err != nil {
		t.Fatal(err)
	}
	if n := h.tableEntries(); n != 1 {
		t.Errorf("%d table entries after RECONCILE_AND_COMMIT, want 1", n)
	}
	if c := h.getConfig(p4v1.GetForwardingPipelineConfigRequest_COOKIE_ONLY).GetCookie().GetCookie(); c != 2 {
		t.Errorf("cookie %d after RECONCILE_AND_COMMIT, want 2", c)
	}
}

// Set is the primary's alone, and checks the device first.
func TestSetConfigWho(t *testing.T) {
	h := newHarness(t)
	wantCode(t, "Set with no controller", h.setConfig(eid(1), verifyAndCommit, pipelineConfig()), codes.PermissionDenied)
	h.primary(2)
	b := h.connect(eid(1))
	b.wantArbitration(codes.AlreadyExists, eid(2))
	wantCode(t, "Set from a backup", h.setConfig(eid(1), verifyAndCommit, pipelineConfig()), codes.PermissionDenied)
	wantCode(t, "Set without election_id", h.setConfig(nil, verifyAndCommit, pipelineConfig()), codes.PermissionDenied)
	_, err := h.cli.SetForwardingPipelineConfig(ctx(t), &p4v1.SetForwardingPipelineConfigRequest{
		DeviceId: deviceID + 1, ElectionId: eid(2), Action: verifyAndCommit, Config: pipelineConfig()})
	wantCode(t, "Set for another device", err, codes.NotFound)
	_, err = h.cli.SetForwardingPipelineConfig(ctx(t), &p4v1.SetForwardingPipelineConfigRequest{
		DeviceId: deviceID, Role: "sdn", ElectionId: eid(2), Action: verifyAndCommit, Config: pipelineConfig()})
	wantCode(t, "Set for a role", err, codes.NotFound)
	if h.srv.Pipeline() != nil {
		t.Error("a refused Set made a pipeline")
	}
	wantCode(t, "UNSPECIFIED action", h.setConfig(eid(2), p4v1.SetForwardingPipelineConfigRequest_UNSPECIFIED, pipelineConfig()), codes.InvalidArgument)
	wantCode(t, "unknown action", h.setConfig(eid(2), 42, pipelineConfig()), codes.InvalidArgument)
}

// Only the symdist pipeline is accepted: any other P4Info or device
// config is INVALID_ARGUMENT, for every action that takes a config, and
// the running state is untouched. A P4Info that differs only in what does
// not change the pipeline (aliases, annotations, order, pkg_info) is the
// same pipeline.
func TestSetConfigOnlyThisPipeline(t *testing.T) {
	h, _ := ready(t)
	n := h.tableEntries()
	edit := func(f func(*p4configv1.P4Info)) *p4v1.ForwardingPipelineConfig {
		cfg := pipelineConfig()
		f(cfg.P4Info)
		return cfg
	}
	for _, c := range []struct {
		name string
		cfg  *p4v1.ForwardingPipelineConfig
	}{
		{"no config", nil},
		{"no p4info", &p4v1.ForwardingPipelineConfig{P4DeviceConfig: p4info.BMv2JSON()}},
		{"empty p4info", &p4v1.ForwardingPipelineConfig{P4Info: &p4configv1.P4Info{}}},
		{"table ID changed", edit(func(i *p4configv1.P4Info) { i.Tables[0].Preamble.Id = 99 })},
		{"table renamed", edit(func(i *p4configv1.P4Info) { i.Tables[0].Preamble.Name = "other" })},
		{"table size changed", edit(func(i *p4configv1.P4Info) { i.Tables[0].Size++ })},
		{"table missing", edit(func(i *p4configv1.P4Info) { i.Tables = i.Tables[1:] })},
		{"table added", edit(func(i *p4configv1.P4Info) {
			t := proto.Clone(i.Tables[0]).(*p4configv1.Table)
			t.Preamble.Id, t.Preamble.Name = 99, "extra"
			i.Tables = append(i.Tables, t)
		})},
		{"table duplicated", edit(func(i *p4configv1.P4Info) { i.Tables = append(i.Tables, i.Tables[0]) })},
		{"match field bitwidth changed", edit(func(i *p4configv1.P4Info) { i.Tables[0].MatchFields[0].Bitwidth = 16 })},
		{"match type changed", edit(func(i *p4configv1.P4Info) {
			i.Tables[0].MatchFields[0].Match = &p4configv1.MatchField_MatchType_{MatchType: p4configv1.MatchField_LPM}
		})},
		{"action missing", edit(func(i *p4configv1.P4Info) { i.Actions = i.Actions[1:] })},
		{"param ID changed", edit(func(i *p4configv1.P4Info) { i.Actions[1].Params[0].Id = 7 })},
		{"counter size changed", edit(func(i *p4configv1.P4Info) { i.Counters[0].Size = 1 })},
		{"action profile changed", edit(func(i *p4configv1.P4Info) { i.ActionProfiles[0].WithSelector = true })},
		{"packet_out metadata changed", edit(func(i *p4configv1.P4Info) { i.ControllerPacketMetadata[0].Metadata[0].Bitwidth = 16 })},
		{"a register added", edit(func(i *p4configv1.P4Info) {
			i.Registers = append(i.Registers, &p4configv1.Register{Preamble: &p4configv1.Preamble{Id: 60, Name: "r"}, Size: 1})
		})},
		{"another device config", &p4v1.ForwardingPipelineConfig{P4Info: p4info.MustLoad().Info, P4DeviceConfig: []byte(`{"program": "other"}`)}},
	} {
		for _, action := range []p4v1.SetForwardingPipelineConfigRequest_Action{verify, verifyAndSave, verifyAndCommit, reconcile} {
			err := h.setConfig(eid(1), action, c.cfg)
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("%s, %v: %v, want INVALID_ARGUMENT", c.name, action, err)
			} else if action == verify {
				t.Logf("%s: %s", c.name, status.Convert(err).Message())
			}
		}
	}
	if got := h.tableEntries(); got != n {
		t.Errorf("refused configs changed the state: %d entries, want %d", got, n)
	}

	cosmetic := edit(func(i *p4configv1.P4Info) {
		i.PkgInfo = &p4configv1.PkgInfo{Name: "rebuilt", Arch: "v1model"}
		slices.Reverse(i.Tables)
		slices.Reverse(i.Actions)
		i.Tables[0].Preamble.Alias = "another_alias"
		i.Tables[0].Preamble.Annotations = []string{"@brief(\"x\")"}
		i.Actions[0].Preamble.Doc = &p4configv1.Documentation{Brief: "doc"}
		slices.Reverse(i.Tables[0].MatchFields)
		slices.Reverse(i.Tables[0].ActionRefs)
	})
	if err := h.setConfig(eid(1), reconcile, cosmetic); err != nil {
		t.Errorf("a P4Info differing only cosmetically: %v", err)
	}
	if err := h.setConfig(eid(1), verifyAndCommit, &p4v1.ForwardingPipelineConfig{P4Info: p4info.MustLoad().Info}); err != nil {
		t.Errorf("an empty device config: %v", err)
	}
}

func TestCapabilities(t *testing.T) {
	h := newHarness(t)
	resp, err := h.cli.Capabilities(ctx(t), &p4v1.CapabilitiesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetP4RuntimeApiVersion(); got != "1.4.1" {
		t.Errorf("p4runtime_api_version %q, want 1.4.1", got)
	}
}
