// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symdist/symdist/test/testbed"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/p4info"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// recordingSwitch is a P4Runtime server that takes whatever pipeline it is
// given and records it: what a Stratum or bf_switchd switch receives,
// without the hardware. It grants mastership to the first client and
// accepts every write.
type recordingSwitch struct {
	p4v1.UnimplementedP4RuntimeServer
	mu     sync.Mutex
	config *p4v1.ForwardingPipelineConfig // as set, or preloaded
	sets   []*p4v1.SetForwardingPipelineConfigRequest
	writes int
}

func (r *recordingSwitch) StreamChannel(s p4v1.P4Runtime_StreamChannelServer) error {
	for {
		req, err := s.Recv()
		if err != nil {
			return err
		}
		if arb := req.GetArbitration(); arb != nil {
			arb.Status = status.New(codes.OK, "primary").Proto()
			if err := s.Send(&p4v1.StreamMessageResponse{Update: &p4v1.StreamMessageResponse_Arbitration{Arbitration: arb}}); err != nil {
				return err
			}
		}
	}
}

func (r *recordingSwitch) SetForwardingPipelineConfig(_ context.Context, req *p4v1.SetForwardingPipelineConfigRequest) (*p4v1.SetForwardingPipelineConfigResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sets = append(r.sets, req)
	r.config = req.GetConfig()
	return &p4v1.SetForwardingPipelineConfigResponse{}, nil
}

func (r *recordingSwitch) GetForwardingPipelineConfig(context.Context, *p4v1.GetForwardingPipelineConfigRequest) (*p4v1.GetForwardingPipelineConfigResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.config == nil {
		return nil, status.Error(codes.FailedPrecondition, "no pipeline")
	}
	return &p4v1.GetForwardingPipelineConfigResponse{Config: r.config}, nil
}

func (r *recordingSwitch) Write(context.Context, *p4v1.WriteRequest) (*p4v1.WriteResponse, error) {
	r.mu.Lock()
	r.writes++
	r.mu.Unlock()
	return &p4v1.WriteResponse{}, nil
}

func (r *recordingSwitch) Read(*p4v1.ReadRequest, p4v1.P4Runtime_ReadServer) error { return nil }

func (r *recordingSwitch) snapshot() (sets []*p4v1.SetForwardingPipelineConfigRequest, writes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*p4v1.SetForwardingPipelineConfigRequest(nil), r.sets...), r.writes
}

func startRecording(t *testing.T, preloaded *p4v1.ForwardingPipelineConfig) (*recordingSwitch, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recordingSwitch{config: preloaded}
	gs := grpc.NewServer()
	p4v1.RegisterP4RuntimeServer(gs, r)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	return r, ln.Addr().String()
}

// tofinoOutput writes a Tofino compiler output directory (program sd,
// profile pipe) and returns its .conf.
func tofinoOutput(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"sd.conf": `{"p4_devices":[{"p4_programs":[{"program-name":"sd","bfrt-config":"bf-rt.json",
			"p4_pipelines":[{"p4_pipeline_name":"pipe","context":"pipe/context.json","config":"pipe/tofino.bin","pipe_scope":[0,1]}]}]}]}`,
		"bf-rt.json":        "R",
		"pipe/context.json": "C",
		"pipe/tofino.bin":   "B",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "sd.conf")
}

func targetConfig(t *testing.T, addr, target string) *config.Config {
	t.Helper()
	extra := ""
	if target == "stratum" || target == "bf_switchd" {
		extra = "\n    tofino: {conf: " + tofinoOutput(t) + ", profile: pipe}"
	}
	text := `admin: {listen: ""}
switches:
  - name: sw
    address: ` + addr + `
    device_id: 1
    target: ` + target + extra + `
    ports: [{port: 1, role: edge}, {port: 2, role: tm}]
groups:
  - {name: g, id: 1, default_tm: a, rules: [{priority: 1, ip_version: 4}]}
tms:
  - {name: a, id: 1, group: g, ports: {sw: {port: 2, mac: "02:00:00:00:00:01"}}}
`
	cfg, err := config.Parse("target.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Each target gets the device config in its own format, with the P4Info,
// and then its entries.
func TestTargetDeviceConfig(t *testing.T) {
	bfBlob := func() []byte {
		var b []byte
		for _, part := range []string{"sd", "B", "C"} {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(part)))
			b = append(b, part...)
		}
		b = binary.LittleEndian.AppendUint32(b, 0)
		return protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), b)
	}
	for _, tc := range []struct {
		target string
		check  func(t *testing.T, devConf []byte)
	}{
		{"bmv2", func(t *testing.T, d []byte) {
			if !bytes.Equal(d, p4info.BMv2JSON()) {
				t.Errorf("bmv2 got %d bytes that are not the bmv2 JSON", len(d))
			}
		}},
		{"software", func(t *testing.T, d []byte) {
			if !bytes.Equal(d, p4info.BMv2JSON()) {
				t.Errorf("software got %d bytes that are not the bmv2 JSON", len(d))
			}
		}},
		{"stratum", func(t *testing.T, d []byte) {
			want := "\x0a\x02sd\x12\x01R\x1a\x10\x0a\x04pipe\x12\x01C\x1a\x01B\x22\x02\x00\x01"
			if string(d) != want {
				t.Errorf("stratum got %q, want %q", d, want)
			}
		}},
		{"bf_switchd", func(t *testing.T, d []byte) {
			if want := bfBlob(); !bytes.Equal(d, want) {
				t.Errorf("bf_switchd got %x, want %x", d, want)
			}
		}},
	} {
		t.Run(tc.target, func(t *testing.T) {
			rec, addr := startRecording(t, nil)
			_, stop := runController(t, targetConfig(t, addr, tc.target))
			defer stop()
			testbed.Eventually(t, "the pipeline pushed and entries written", 10*time.Second, func() bool {
				sets, writes := rec.snapshot()
				return len(sets) > 0 && writes > 0
			})
			sets, _ := rec.snapshot()
			cfg := sets[0].GetConfig()
			if !proto.Equal(cfg.GetP4Info(), p4info.MustLoad().Info) {
				t.Error("the P4Info pushed is not the built-in one")
			}
			if cfg.GetCookie() == nil {
				t.Error("no cookie pushed")
			}
			tc.check(t, cfg.GetP4DeviceConfig())
		})
	}
}

// A preloaded switch running symdist gets no pipeline, only entries; one
// running another program gets nothing and the controller says why.
func TestTargetPreloaded(t *testing.T) {
	t.Run("symdist", func(t *testing.T) {
		rec, addr := startRecording(t, &p4v1.ForwardingPipelineConfig{P4Info: p4info.MustLoad().Info})
		c, stop := runController(t, targetConfig(t, addr, "preloaded"))
		defer stop()
		testbed.Eventually(t, "entries written", 10*time.Second, func() bool { _, w := rec.snapshot(); return w > 0 })
		testbed.Eventually(t, "in sync", 10*time.Second, func() bool { return inSync(c) })
		if sets, _ := rec.snapshot(); len(sets) != 0 {
			t.Errorf("%d pipeline pushes to a preloaded switch", len(sets))
		}
	})
	t.Run("another program", func(t *testing.T) {
		other := proto.Clone(p4info.MustLoad().Info).(*p4configv1.P4Info)
		other.Tables[0].Preamble.Name = "SomeoneElse.table"
		rec, addr := startRecording(t, &p4v1.ForwardingPipelineConfig{P4Info: other})
		c, stop := runController(t, targetConfig(t, addr, "preloaded"))
		defer stop()
		testbed.Eventually(t, "the controller reporting the other program", 10*time.Second, func() bool {
			st := c.Status()
			return len(st.Switches) == 1 && strings.Contains(st.Switches[0].LastError, "another program")
		})
		if sets, writes := rec.snapshot(); len(sets) != 0 || writes != 0 {
			t.Errorf("%d pushes and %d writes to a switch running another program", len(sets), writes)
		}
	})
}
