// SPDX-License-Identifier: Apache-2.0

// Package verifytest runs what the tests of `symdist verify` hold switches
// against: software switches on loopback P4Runtime that log every
// P4Runtime call made to them (so a test can show that verify never
// writes), the figure-3 deployment programmed by the real controller, and
// a P4Runtime server that runs another program.
package verifytest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symdist/symdist/internal/ifswitch"
	"github.com/symdist/symdist/test/testbed"

	"github.com/symdist/symdist/p4rt"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/controller"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swswitch"
	"github.com/symdist/symdist/verify"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// CallLog counts the P4Runtime methods called on a server, by method
// name ("Write", "Read", "StreamChannel", ...).
type CallLog struct {
	mu    sync.Mutex
	calls map[string]int
}

func (l *CallLog) record(fullMethod string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls == nil {
		l.calls = map[string]int{}
	}
	l.calls[fullMethod[strings.LastIndex(fullMethod, "/")+1:]]++
}

// Take returns the calls logged since the last Take.
func (l *CallLog) Take() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls
	l.calls = nil
	if c == nil {
		c = map[string]int{}
	}
	return c
}

// Disturbing counts the calls among c that change a switch or its
// arbitration: Write, SetForwardingPipelineConfig and StreamChannel.
func Disturbing(c map[string]int) int {
	return c["Write"] + c["SetForwardingPipelineConfig"] + c["StreamChannel"]
}

// options are the gRPC server options that log every call to l.
func (l *CallLog) options() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			l.record(info.FullMethod)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			l.record(info.FullMethod)
			return h(srv, ss)
		}),
	}
}

// Switch is a software switch serving P4Runtime on loopback.
type Switch struct {
	*swswitch.Served
	Addr     string
	DeviceID uint64
	Calls    CallLog
}

// StartSwitch starts a software switch with ports; it stops when the
// test ends.
func StartSwitch(t testing.TB, deviceID uint64, ports map[uint16]swswitch.Port) *Switch {
	t.Helper()
	s := &Switch{DeviceID: deviceID}
	sw, err := swswitch.Listen(swswitch.Config{DeviceID: deviceID, Ports: ports, ServerOptions: s.Calls.options()})
	if err != nil {
		t.Fatal(err)
	}
	s.Served, s.Addr = sw, sw.Addr()
	t.Cleanup(sw.Stop)
	return s
}

// PipePorts are in-process ports 1..n that drop what the switch sends.
func PipePorts(n uint16) map[uint16]swswitch.Port {
	ports := map[uint16]swswitch.Port{}
	for p := uint16(1); p <= n; p++ {
		ports[p] = swswitch.NewPipePort(func([]byte) {})
	}
	return ports
}

// State is everything the switch's pipeline holds (entries, members,
// multicast groups), read from the pipeline itself, not over P4Runtime.
func (s *Switch) State(t testing.TB) []*p4v1.Entity {
	t.Helper()
	p := s.Server().Pipeline()
	if p == nil {
		return nil
	}
	var out []*p4v1.Entity
	for _, q := range entries.Wildcards() {
		if err := p.Read(q, func(e *p4v1.Entity) error { out = append(out, e); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Deployment is figure 3 (examples/figure3.yaml) on two switches,
// programmed and kept by the controller, with its admin API.
type Deployment struct {
	ConfigPath string // the config as written for these switches
	Config     *config.Config
	Controller *controller.Controller
	AdminURL   string
	// Switches are the software switches by the config's name; empty for
	// switches of another kind (bmv2).
	Switches map[string]*Switch
}

// At is where a switch serves P4Runtime.
type At struct {
	Addr     string
	DeviceID uint64
}

// healthLine is a TM's health check in figure3.yaml.
var healthLine = regexp.MustCompile(`(?m)^([ \t]*)health: \{.*\}$`)

// Figure3Config is examples/figure3.yaml (example) for the switches at at,
// by name, with every TM's health check off (type none) and the admin API
// on a free port: a controller run on it reaches nothing but at.
func Figure3Config(example []byte, at map[string]At) string {
	return strings.NewReplacer(
		"address: 127.0.0.1:9559\n    device_id: 1", fmt.Sprintf("address: %s\n    device_id: %d", at["client-side"].Addr, at["client-side"].DeviceID),
		"address: 127.0.0.1:9560\n    device_id: 2", fmt.Sprintf("address: %s\n    device_id: %d", at["server-side"].Addr, at["server-side"].DeviceID),
		"127.0.0.1:9090", "127.0.0.1:0").
		Replace(healthLine.ReplaceAllString(string(example), "${1}health: {type: none}"))
}

// Figure3 starts the client-side and server-side software switches with
// the ports ports gives for each, and programs figure 3 on them
// (Figure3At).
func Figure3(t testing.TB, root string, ports func(sw string) map[uint16]swswitch.Port) *Deployment {
	t.Helper()
	cs := StartSwitch(t, 1, ports("client-side"))
	ss := StartSwitch(t, 2, ports("server-side"))
	d := Figure3At(t, root, map[string]At{"client-side": {cs.Addr, 1}, "server-side": {ss.Addr, 2}})
	d.Switches["client-side"], d.Switches["server-side"] = cs, ss
	return d
}

// Figure3At writes examples/figure3.yaml (found at root) for the switches
// at at, by name, with every TM's health check off (the TMs are not
// running) and the admin API on a free port, and runs the controller until
// both switches are in sync.
func Figure3At(t testing.TB, root string, at map[string]At) *Deployment {
	t.Helper()
	example, err := os.ReadFile(filepath.Join(root, "examples", "figure3.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d := &Deployment{Switches: map[string]*Switch{}}
	text := Figure3Config(example, at)
	d.ConfigPath = filepath.Join(t.TempDir(), "figure3.yaml")
	if err := os.WriteFile(d.ConfigPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if d.Config, err = config.Load(d.ConfigPath); err != nil {
		t.Fatal(err)
	}
	for _, sw := range d.Config.Switches {
		if sw.Address != at[sw.Name].Addr {
			t.Fatalf("figure3.yaml: switch %s not at %s: has its address line changed?", sw.Name, at[sw.Name].Addr)
		}
	}
	if d.Controller, err = controller.New(d.Config, nil); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.AdminURL = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.Controller.Run(ctx) }()
	go func() { defer wg.Done(); d.Controller.ServeAdmin(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for !d.InSync() {
		if time.Now().After(deadline) {
			t.Fatalf("figure 3 not in sync after 60 s: %+v", d.Controller.Status().Switches)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return d
}

// InSync reports whether the controller is primary on both switches and
// has written its latest state to them.
func (d *Deployment) InSync() bool {
	st := d.Controller.Status()
	for _, s := range st.Switches {
		if !s.InSync || !s.Primary {
			return false
		}
	}
	return len(st.Switches) == 2
}

// Corrupt points bucket of group on switch sw at TM tm, as a second
// client with a higher election id than the controller's would: it opens
// its own arbitration stream (so it becomes primary, and the controller a
// backup that writes nothing) and writes one MODIFY. The stream stays open
// until the returned function is called (then the controller takes the
// switch back and repairs it).
func (d *Deployment) Corrupt(t testing.TB, sw, group string, bucket uint16, tm string) (restore func()) {
	t.Helper()
	var s *config.Switch
	for i := range d.Config.Switches {
		if d.Config.Switches[i].Name == sw {
			s = &d.Config.Switches[i]
		}
	}
	conn, err := grpc.NewClient(s.Address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := p4rt.Open(context.Background(), conn, s.DeviceID, d.Config.ElectionID+1000, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := sess.Primary(); !ok {
		t.Fatal("the corrupting client is not primary")
	}
	ids, err := p4info.MustLoad().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	e := entries.Builder{IDs: ids}.Bucket(d.Config.Group(group).ID, bucket, uint32(d.Config.TM(tm).ID))
	if err := sess.Write(ctx, []*p4v1.Update{entries.Update(p4v1.Update_MODIFY, e)}); err != nil {
		t.Fatal(err)
	}
	return func() {
		sess.Close()
		conn.Close()
	}
}

// OtherProgram is a P4Runtime server whose pipeline's P4Info is info (or
// none, when info is nil) for device 1; it answers only
// GetForwardingPipelineConfig, as bmv2 does for a device it has no
// pipeline for (whatever its id), and logs every call.
type OtherProgram struct {
	p4v1.UnimplementedP4RuntimeServer
	Addr  string
	Calls CallLog
	info  *p4configv1.P4Info
}

// StartOtherProgram serves device 1 until the test ends.
func StartOtherProgram(t testing.TB, info *p4configv1.P4Info) *OtherProgram {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &OtherProgram{Addr: ln.Addr().String(), info: info}
	gs := grpc.NewServer(o.Calls.options()...)
	p4v1.RegisterP4RuntimeServer(gs, o)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	return o
}

// GetForwardingPipelineConfig returns the other program's P4Info.
func (o *OtherProgram) GetForwardingPipelineConfig(_ context.Context, req *p4v1.GetForwardingPipelineConfigRequest) (*p4v1.GetForwardingPipelineConfigResponse, error) {
	if req.GetDeviceId() != 1 || o.info == nil {
		// As bmv2 (PI) answers for an unknown device too.
		return nil, status.Error(codes.FailedPrecondition, "no forwarding pipeline config set")
	}
	return &p4v1.GetForwardingPipelineConfigResponse{Config: &p4v1.ForwardingPipelineConfig{
		P4Info: o.info, Cookie: &p4v1.ForwardingPipelineConfig_Cookie{Cookie: 42},
	}}, nil
}

// Program pushes symdist's pipeline to a switch with no state, as a
// controller would before writing anything.
func Program(t testing.TB, s *Switch, info *p4configv1.P4Info, deviceConfig []byte) {
	t.Helper()
	conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := p4rt.Open(ctx, conn, s.DeviceID, 1, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.SetPipeline(ctx, info, deviceConfig, 1); err != nil {
		t.Fatal(fmt.Errorf("pushing the pipeline: %w", err))
	}
}

// CheckState fails the test unless every switch of the controller holds
// what the controller intends (verify state against its own view) within
// 10 s: long enough for a reprogramming under way to finish.
func CheckState(t testing.TB, c *controller.Controller) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := verify.CheckDeployment(ctx, c)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Error(err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// VethFigure3 is figure 3 (Figure3At) on two switches of a kind ("soft"
// or "bmv2") whose ports are veths named after prefix (root); it returns
// the host side of each switch port. Without root the test skips.
func VethFigure3(t *testing.T, root, kind, prefix string) (*Deployment, map[string]map[uint16]string) {
	t.Helper()
	if why := testbed.CanMakeVeths(); why != "" {
		t.Skip("verify traffic: " + why)
	}
	hosts := map[string]map[uint16]string{}
	veths := func(sw string) []testbed.VethPair {
		pairs, cleanup, err := testbed.MakeVeths(prefix+sw[:1]+kind[:1], []uint16{1, 2, 3, 4, 5})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cleanup)
		hosts[sw] = map[uint16]string{}
		for _, p := range pairs {
			hosts[sw][p.Port] = p.HostSide
		}
		return pairs
	}
	if kind == "bmv2" {
		at := map[string]At{}
		for _, sw := range []string{"client-side", "server-side"} {
			target, err := ifswitch.StartBMv2(testbed.SwitchPorts(veths(sw)), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(target.Stop)
			at[sw] = At{Addr: target.Addr, DeviceID: target.DeviceID}
		}
		return Figure3At(t, root, at), hosts
	}
	d := Figure3(t, root, func(sw string) map[uint16]swswitch.Port {
		ports := map[uint16]swswitch.Port{}
		for _, p := range veths(sw) {
			port, err := swswitch.OpenInterface(p.SwitchSide)
			if err != nil {
				t.Fatal(err)
			}
			ports[p.Port] = port
		}
		return ports
	})
	return d, hosts
}
