// SPDX-License-Identifier: Apache-2.0

package conformance

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/symdist/symdist/internal/ifswitch"
	"github.com/symdist/symdist/test/testbed"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/controller"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swmodel"
	"github.com/symdist/symdist/vectors"
	"github.com/symdist/symdist/verify"
)

var ports = []uint16{1, 2, 3, 4, 5, 6, 7}

// rig is a target switch with its veths, and verify's runner sending
// through them against the model holding the same state.
type rig struct {
	target *ifswitch.Switch
	runner *verify.Runner
}

func newRig(t testing.TB, prefix string, start func([]testbed.VethPair) (*ifswitch.Switch, error)) *rig {
	t.Helper()
	pairs, cleanup, err := testbed.MakeVeths(prefix, ports)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	target, err := start(pairs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(target.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := testbed.Program(ctx, target); err != nil {
		t.Fatal(err)
	}
	r := &rig{target: target, runner: &verify.Runner{Ports: map[uint16]*verify.HostPort{}}}
	for _, p := range pairs {
		h, err := verify.OpenHostPort(p.HostSide)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		r.runner.Ports[p.Port] = h
	}
	ids, _ := p4info.MustLoad().Resolve()
	var es []*p4v1.Entity
	for _, u := range vectors.State(ids) {
		es = append(es, u.GetEntity())
	}
	if r.runner.Model, err = verify.Model(es); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	r.runner.Drain()
	return r
}

// runVectors sends every golden vector, one at a time, and compares what
// leaves.
func (r *rig) runVectors(t *testing.T) {
	vs, err := vectors.ReadSTFFile("../vectors/symdist.stf")
	if err != nil {
		t.Fatal(err)
	}
	var sent []vectors.Vector
	var pkts []vectors.Packet
	for _, v := range vs {
		if !verify.CrossesLink(v.Frame) {
			t.Logf("vector %q not sent: Linux drops a VLAN frame too short for its tag before any switch sees it", v.Name)
			continue
		}
		sent = append(sent, v)
		pkts = append(pkts, vectors.Packet{Port: v.Port, Frame: v.Frame})
	}
	r.runner.Burst = 1
	rep, err := r.runner.Run(pkts)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Differences {
		name := "?"
		if d.Packet >= 0 {
			name = sent[d.Packet].Name
		}
		t.Errorf("vector %q on %s: %s", name, r.target.Name, d)
	}
	t.Logf("%s: %d vectors sent, %d differ from the model, %d cannot cross a veth", r.target.Name, rep.Sent, len(rep.Differences), len(vs)-len(sent))
}

// runRandom sends pkts in bursts and compares everything that left with
// the model's outputs; it returns the packets per second achieved.
func (r *rig) runRandom(t testing.TB, pkts []vectors.Packet, burst int) (pps float64, sent int) {
	r.runner.Burst = burst
	rep, err := r.runner.Run(pkts)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range rep.Differences {
		if i == 20 {
			t.Errorf("... and %d more", len(rep.Differences)-20)
			break
		}
		t.Errorf("random packets on %s: %s", r.target.Name, d)
	}
	return float64(rep.Sent) / rep.Seconds, rep.Sent
}

func targets(t testing.TB) map[string]func([]testbed.VethPair) (*ifswitch.Switch, error) {
	if why := testbed.CanMakeVeths(); why != "" {
		t.Skip("conformance: " + why)
	}
	ts := map[string]func([]testbed.VethPair) (*ifswitch.Switch, error){
		"softswitch": func(p []testbed.VethPair) (*ifswitch.Switch, error) {
			return ifswitch.StartSoft(testbed.SwitchPorts(p))
		},
	}
	if ifswitch.BMv2Missing() == "" {
		dir := t.TempDir()
		ts["bmv2"] = func(p []testbed.VethPair) (*ifswitch.Switch, error) {
			return ifswitch.StartBMv2(testbed.SwitchPorts(p), dir)
		}
	}
	return ts
}

// randomPackets are the random packets of every conformance run.
func randomPackets() []vectors.Packet { return vectors.Random(10300, 7) }

// TestConformance holds each switch (the software switch always, bmv2
// where installed) against the Go model: every golden vector, then 10,000
// random packets, egress port and bytes, packet for packet.
func TestConformance(t *testing.T) {
	ts := targets(t)
	for i, name := range []string{"softswitch", "bmv2"} {
		start, ok := ts[name]
		t.Run(name, func(t *testing.T) {
			if !ok {
				t.Skip(ifswitch.BMv2Missing())
			}
			r := newRig(t, fmt.Sprintf("cf%d", i), start)
			t.Run("vectors", r.runVectors)
			t.Run("random", func(t *testing.T) {
				pkts := randomPackets()
				pps, sent := r.runRandom(t, pkts, 50)
				if sent < 10000 {
					t.Errorf("only %d random packets could be sent", sent)
				}
				t.Logf("%s: %d random packets at %.0f packets/s", name, sent, pps)
			})
		})
	}
}

// BenchmarkSwitchRate: packets per second through each switch over the
// same veths, side by side in one run (compare the ratio, not the numbers),
// in bursts of 50 packets (bmv2 drops packets from larger bursts).
func BenchmarkSwitchRate(b *testing.B) {
	ts := targets(b)
	pkts := vectors.Random(5000, 11)
	for i, name := range []string{"softswitch", "bmv2"} {
		start, ok := ts[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			r := newRig(b, fmt.Sprintf("cb%d", i), start)
			var pps float64
			for b.Loop() {
				pps, _ = r.runRandom(b, pkts, 50)
			}
			b.ReportMetric(pps, "packets/s")
		})
	}
}

// BenchmarkProgram: pushing the pipeline and writing the fixture state
// (6,200 updates: 6,144 bucket entries and the rest) to each switch over
// P4Runtime, side by side in one run.
func BenchmarkProgram(b *testing.B) {
	ts := targets(b)
	ids, _ := p4info.MustLoad().Resolve()
	n := len(vectors.State(ids))
	for i, name := range []string{"softswitch", "bmv2"} {
		start, ok := ts[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			pairs, cleanup, err := testbed.MakeVeths(fmt.Sprintf("cp%d", i), ports)
			if err != nil {
				b.Fatal(err)
			}
			defer cleanup()
			target, err := start(pairs)
			if err != nil {
				b.Fatal(err)
			}
			defer target.Stop()
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				if err := testbed.Program(ctx, target); err != nil {
					b.Fatal(err)
				}
				cancel()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}

// BenchmarkSwitchBlast: every packet sent as fast as the sender can, no
// waiting; what each switch delivers per second until its last output,
// and what it lost (bmv2 drops from its queues under such load).
func BenchmarkSwitchBlast(b *testing.B) {
	ts := targets(b)
	pkts := slices.DeleteFunc(vectors.Random(20000, 13), func(p vectors.Packet) bool { return !verify.CrossesLink(p.Frame) })
	for i, name := range []string{"softswitch", "bmv2"} {
		start, ok := ts[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			r := newRig(b, fmt.Sprintf("cx%d", i), start)
			want := 0
			var res swmodel.Result
			for _, p := range pkts {
				r.runner.Model.Process(p.Port, p.Frame, &res)
				want += len(res.Ports)
			}
			var delivered, lost float64
			for b.Loop() {
				r.runner.Drain()
				begin := time.Now()
				for _, p := range pkts {
					if err := r.runner.Ports[p.Port].Send(p.Frame); err != nil {
						b.Fatal(err)
					}
				}
				// Until nothing more arrives for 300 ms.
				last, n := time.Now(), 0
				for time.Since(last) < 300*time.Millisecond {
					c := 0
					for _, h := range r.runner.Ports {
						c += h.Count()
					}
					if c != n {
						n, last = c, time.Now()
					}
					time.Sleep(5 * time.Millisecond)
				}
				delivered = float64(n) / last.Sub(begin).Seconds()
				lost = 100 * float64(want-n) / float64(want)
			}
			b.ReportMetric(delivered, "frames/s")
			b.ReportMetric(lost, "%lost")
		})
	}
}

// programConfig is one switch with 4 groups x 4 TMs x 4096 buckets.
func programConfig(b *testing.B, addr string) *config.Config {
	return testbed.Grid{Switches: []string{addr}, TMPorts: 16, Groups: 4, TMsPerGroup: 4}.Config(b)
}

// BenchmarkControllerProgram: the controller programs a fresh switch with 4
// groups x 4096 buckets (16,4xx updates), timed to the switch in sync.
func BenchmarkControllerProgram(b *testing.B) {
	ts := targets(b)
	for i, name := range []string{"softswitch", "bmv2"} {
		start, ok := ts[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			pairs, cleanup, err := testbed.MakeVeths(fmt.Sprintf("cc%d", i), ports)
			if err != nil {
				b.Fatal(err)
			}
			defer cleanup()
			written := 0
			for b.Loop() {
				b.StopTimer()
				target, err := start(pairs)
				if err != nil {
					b.Fatal(err)
				}
				c, err := controller.New(programConfig(b, target.Addr), nil)
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				b.StartTimer()
				go func() { c.Run(ctx); close(done) }()
				deadline := time.Now().Add(2 * time.Minute)
				for !c.Status().Switches[0].InSync {
					if time.Now().After(deadline) {
						b.Fatal("not in sync after 2 minutes")
					}
					time.Sleep(time.Millisecond)
				}
				b.StopTimer()
				written = c.Status().Switches[0].LastWritten
				cancel()
				<-done
				target.Stop()
				b.StartTimer()
			}
			b.ReportMetric(float64(written), "updates/op")
		})
	}
}
