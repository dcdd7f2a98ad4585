// SPDX-License-Identifier: Apache-2.0

package controller_test

//lint:file-ignore SA1019 the flood group's replicas name their ports in Replica.egress_port, which P4Runtime 1.4 deprecates and Stratum's translator still reads

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/test/testbed"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// storingSwitch is a P4Runtime server that keeps what it is written and
// reads it back the way a switch running the P4Info it was given may:
// canonical bytestrings (Stratum's translator answers with
// Uint32ToByteStream, which strips leading zeros), or every value padded
// to its field's P4Info bitwidth (4 bytes for a translated port). It
// records every write request.
type storingSwitch struct {
	recordingSwitch
	padded bool
	// lengthened counts the values Read padded: reads that tested
	// something.
	lengthened int
	store      map[string]*p4v1.Entity
	reqs       []*p4v1.WriteRequest
}

func (s *storingSwitch) Write(_ context.Context, req *p4v1.WriteRequest) (*p4v1.WriteResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, proto.Clone(req).(*p4v1.WriteRequest))
	s.writes++
	for _, u := range req.GetUpdates() {
		e := entries.Canonicalize(proto.Clone(u.GetEntity()).(*p4v1.Entity))
		k := entries.Key(e)
		switch u.GetType() {
		case p4v1.Update_DELETE:
			delete(s.store, k)
		default:
			s.store[k] = e
		}
	}
	return &p4v1.WriteResponse{}, nil
}

func (s *storingSwitch) Read(req *p4v1.ReadRequest, stream p4v1.P4Runtime_ReadServer) error {
	s.mu.Lock()
	var widths map[[2]uint32]int32 // (table or action, field or param) -> bitwidth
	if s.config != nil {
		widths = bitwidths(s.config.GetP4Info())
	}
	var out []*p4v1.Entity
	for _, want := range req.GetEntities() {
		for _, e := range s.store {
			te, wte := e.GetTableEntry(), want.GetTableEntry()
			switch {
			case wte != nil && te != nil && (wte.GetTableId() == 0 || wte.GetTableId() == te.GetTableId()):
			case want.GetActionProfileMember() != nil && e.GetActionProfileMember() != nil:
			case want.GetPacketReplicationEngineEntry() != nil && e.GetPacketReplicationEngineEntry() != nil:
			default:
				continue
			}
			e = proto.Clone(e).(*p4v1.Entity)
			if s.padded {
				s.lengthened += pad(e, widths)
			}
			out = append(out, e)
		}
	}
	s.mu.Unlock()
	return stream.Send(&p4v1.ReadResponse{Entities: out})
}

func (s *storingSwitch) requests() []*p4v1.WriteRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*p4v1.WriteRequest(nil), s.reqs...)
}

// bitwidths maps every match field and action parameter of info to its
// bitwidth.
func bitwidths(info *p4configv1.P4Info) map[[2]uint32]int32 {
	w := map[[2]uint32]int32{}
	for _, t := range info.GetTables() {
		for _, f := range t.GetMatchFields() {
			w[[2]uint32{t.GetPreamble().GetId(), f.GetId()}] = f.GetBitwidth()
		}
	}
	for _, a := range info.GetActions() {
		for _, p := range a.GetParams() {
			w[[2]uint32{a.GetPreamble().GetId(), p.GetId()}] = p.GetBitwidth()
		}
	}
	return w
}

// pad left-pads e's exact matches and action parameters to their fields'
// P4Info widths, and returns how many it lengthened.
func pad(e *p4v1.Entity, w map[[2]uint32]int32) (n int) {
	to := func(b []byte, bits int32) []byte {
		width := int(bits+7) / 8
		if len(b) >= width {
			return b
		}
		n++
		return append(make([]byte, width-len(b)), b...)
	}
	action := func(a *p4v1.Action) {
		for _, p := range a.GetParams() {
			p.Value = to(p.Value, w[[2]uint32{a.GetActionId(), p.GetParamId()}])
		}
	}
	if te := e.GetTableEntry(); te != nil {
		for _, m := range te.GetMatch() {
			if x := m.GetExact(); x != nil {
				x.Value = to(x.Value, w[[2]uint32{te.GetTableId(), m.GetFieldId()}])
			}
		}
		action(te.GetAction().GetAction())
	}
	if m := e.GetActionProfileMember(); m != nil {
		action(m.GetAction())
	}
	return n
}

func startStoring(t *testing.T, padded bool) (*storingSwitch, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &storingSwitch{padded: padded, store: map[string]*p4v1.Entity{}}
	gs := grpc.NewServer()
	p4v1.RegisterP4RuntimeServer(gs, s)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	return s, ln.Addr().String()
}

// portConfig is one switch of target with an edge and a TM port, the
// lines extra after its target.
func portConfig(t *testing.T, addr, target, extra string, edge, tm uint16) *config.Config {
	t.Helper()
	text := fmt.Sprintf(`admin: {listen: ""}
switches:
  - name: sw
    address: %s
    device_id: 1
    target: %s
    %s
    ports: [{port: %d, role: edge}, {port: %d, role: tm}]
groups:
  - {name: g, id: 1, buckets: 16, default_tm: a, rules: [{priority: 1, ip_version: 4}]}
tms:
  - {name: a, id: 1, group: g, ports: {sw: {port: %d, mac: "02:00:00:00:00:01"}}}
`, addr, target, extra, edge, tm, tm)
	cfg, err := config.Parse("ports.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// portValues lists every port value in reqs' updates, as written, by
// where it sits: port_role's key, the port of send_to_tm (members,
// default_tm) and forward (l2_forward), and the flood group's replicas.
func portValues(ids *p4info.IDs, reqs []*p4v1.WriteRequest) map[string][]string {
	out := map[string][]string{}
	add := func(where string, v []byte) { out[where] = append(out[where], fmt.Sprintf("%x", v)) }
	sendToTM := func(where string, a *p4v1.Action) {
		for _, p := range a.GetParams() {
			if a.GetActionId() == ids.SendToTM.Action && p.GetParamId() == ids.SendToTM.Port ||
				a.GetActionId() == ids.L2Forward.Forward && p.GetParamId() == ids.L2Forward.ForwardPort {
				add(where, p.GetValue())
			}
		}
	}
	for _, r := range reqs {
		for _, u := range r.GetUpdates() {
			e := u.GetEntity()
			switch te := e.GetTableEntry(); {
			case te.GetTableId() == ids.PortRole.Table:
				add("port_role key", te.GetMatch()[0].GetExact().GetValue())
			case te.GetTableId() == ids.DefaultTM.Table:
				sendToTM("default_tm send_to_tm port", te.GetAction().GetAction())
			case te.GetTableId() == ids.L2Forward.Table:
				sendToTM("l2_forward forward port", te.GetAction().GetAction())
			case e.GetActionProfileMember() != nil:
				sendToTM("member send_to_tm port", e.GetActionProfileMember().GetAction())
			case e.GetPacketReplicationEngineEntry() != nil:
				for _, rep := range e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry().GetReplicas() {
					out["flood replica"] = append(out["flood replica"], fmt.Sprint(rep.GetEgressPort()))
				}
			}
		}
	}
	return out
}

// The controller writes ports as the switch's P4Info types them, and
// reads them back whether the switch answers canonical or padded
// bytestrings. Without the translation (the built-in P4Info on bmv2) a
// port is one of 9 bits; with it (the Tofino build's P4Info on a Stratum
// switch given singleton port ids) one of 32 bits: 1000 and 40000 are
// singleton port ids no 9-bit field holds. Every value goes out as
// P4Runtime's canonical bytestring (no leading zero bytes), which a
// 32-bit field takes in up to 4 bytes and a 9-bit one in up to 2. A
// second controller reads the state back and writes nothing.
func TestPortEncoding(t *testing.T) {
	ids, err := p4info.MustLoad().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	tofinoText, err := prototext.Marshal(p4info.TranslatedPorts(p4info.MustLoad().Info))
	if err != nil {
		t.Fatal(err)
	}
	tofinoP4Info := filepath.Join(t.TempDir(), "symdist.p4info.txtpb")
	if err := os.WriteFile(tofinoP4Info, tofinoText, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		target   string
		extra    func(t *testing.T) string
		edge, tm uint16
		p4info   *p4configv1.P4Info
		want     map[string][]string
	}{
		{
			name: "bmv2 untranslated", target: "bmv2", extra: func(*testing.T) string { return "" },
			edge: 1, tm: 300, p4info: p4info.MustLoad().Info,
			want: map[string][]string{
				"port_role key":              {"01", "012c"},
				"default_tm send_to_tm port": {"012c"},
				"member send_to_tm port":     {"012c"},
				"l2_forward forward port":    {"012c"},
				"flood replica":              {"1", "300"},
			},
		},
		{
			name: "stratum translated singleton", target: "stratum",
			extra: func(t *testing.T) string {
				return "tofino: {conf: " + tofinoOutput(t) + ", profile: pipe}\n    p4info: " + tofinoP4Info + "\n    port_numbers: singleton"
			},
			edge: 1000, tm: 40000, p4info: p4info.TranslatedPorts(p4info.MustLoad().Info),
			want: map[string][]string{
				"port_role key":              {"03e8", "9c40"},
				"default_tm send_to_tm port": {"9c40"},
				"member send_to_tm port":     {"9c40"},
				"l2_forward forward port":    {"9c40"},
				"flood replica":              {"1000", "40000"},
			},
		},
	} {
		for _, padded := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/padded=%v", tc.name, padded), func(t *testing.T) {
				sw, addr := startStoring(t, padded)
				cfg := portConfig(t, addr, tc.target, tc.extra(t), tc.edge, tc.tm)
				c, stop := runController(t, cfg)
				testbed.Eventually(t, "in sync", 10*time.Second, func() bool { return inSync(c) })
				stop()
				sets, _ := sw.snapshot()
				if len(sets) != 1 {
					t.Fatalf("%d pipeline pushes, want 1", len(sets))
				}
				if diff := cmp.Diff(tc.p4info, sets[0].GetConfig().GetP4Info(), protocmp.Transform()); diff != "" {
					t.Errorf("the P4Info pushed (-want +got):\n%s", diff)
				}
				reqs := sw.requests()
				got := portValues(ids, reqs)
				for _, v := range got {
					slices.Sort(v)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("port values written (-want +got):\n%s", diff)
				}

				// The read-back: a new controller finds the switch in
				// the state it wants and writes nothing.
				c2, stop2 := runController(t, cfg)
				defer stop2()
				testbed.Eventually(t, "the second controller in sync", 10*time.Second, func() bool { return inSync(c2) })
				stop2()
				sw.mu.Lock()
				lengthened := sw.lengthened
				sw.mu.Unlock()
				if padded && lengthened == 0 {
					t.Error("the switch padded no value it read back")
				}
				if more := sw.requests()[len(reqs):]; len(more) != 0 {
					t.Errorf("the second controller wrote %d requests to a switch in the state it wants; first: %v", len(more), prototext.Format(more[0]))
				}
			})
		}
	}
}
