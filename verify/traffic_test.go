// SPDX-License-Identifier: Apache-2.0

package verify_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/symdist/symdist/internal/ifswitch"

	"github.com/symdist/symdist/adminapi"

	"github.com/google/go-cmp/cmp"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/swmodel"
	"github.com/symdist/symdist/test/verifytest"
	"github.com/symdist/symdist/vectors"
	"github.com/symdist/symdist/verify"
	"google.golang.org/protobuf/testing/protocmp"
)

// kinds are the switches to run on: the software switch, and bmv2 (its
// subtest skips where bmv2 is not installed).
func kinds(*testing.T) []string { return []string{"soft", "bmv2"} }

func vethFigure3(t *testing.T, kind string) (*verifytest.Deployment, map[string]map[uint16]string) {
	return verifytest.VethFigure3(t, "..", kind, "vt")
}

// stateOf is what a switch holds: read from the software switch's
// pipeline itself, or over P4Runtime from bmv2.
func stateOf(t *testing.T, d *verifytest.Deployment, sw string) []*p4v1.Entity {
	if s := d.Switches[sw]; s != nil {
		return s.State(t)
	}
	snap, err := verify.ReadTarget(ctxFor(t), target(t, d, sw))
	if err != nil {
		t.Fatal(err)
	}
	return snap.Entities
}

func target(t *testing.T, d *verifytest.Deployment, sw string) verify.Target {
	for _, tg := range verify.Targets(d.Config) {
		if tg.Name == sw {
			return tg
		}
	}
	t.Fatalf("no switch %s", sw)
	return verify.Target{}
}

const trafficPackets, trafficSeed = 3000, 5

// burst is how many packets each kind of switch gets before verify waits
// for their outputs: bmv2 drops from its queues under larger bursts.
var burst = map[string]int{"soft": 50, "bmv2": 5}

// Both switches of figure 3, as the controller programs them, forward the
// conformance generator's traffic made for their state exactly as the
// model says, held against the config and the controller's view as well
// as against their own tables; and verify traffic writes nothing.
func TestTrafficFigure3(t *testing.T) {
	for _, kind := range kinds(t) {
		t.Run(kind, func(t *testing.T) { trafficFigure3(t, kind) })
	}
}

func trafficFigure3(t *testing.T, kind string) {
	skipWithoutBMv2(t, kind)
	d, hosts := vethFigure3(t, kind)
	ctrl := &adminapi.Client{URL: d.AdminURL}
	r, err := verify.State(ctxFor(t), verify.StateOptions{Config: d.Config, Controller: ctrl})
	if err != nil || len(r.Problems) != 0 {
		t.Fatalf("verify state: %v, problems %v", err, r.Problems)
	}
	before := map[string]any{}
	for _, sw := range []string{"client-side", "server-side"} {
		before[sw] = stateOf(t, d, sw)
	}
	for _, s := range d.Switches {
		s.Calls.Take()
	}
	for _, sw := range []string{"client-side", "server-side"} {
		for _, against := range []string{"config", "own tables"} {
			t.Run(sw+" against "+against, func(t *testing.T) {
				o := verify.TrafficOptions{Target: target(t, d, sw), Ports: hosts[sw], Random: trafficPackets, Seed: trafficSeed, Burst: burst[kind]}
				if against == "config" {
					o.Config, o.Controller = d.Config, ctrl
				}
				r, err := verify.Traffic(ctxFor(t), o)
				if err != nil {
					t.Fatal(err)
				}
				for _, diff := range r.Differences {
					t.Error(diff)
				}
				if len(r.StateDifferences) > 0 {
					t.Errorf("state differences: %v", r.StateDifferences)
				}
				hashed := slices.IndexFunc(r.ByReason, func(s verify.ReasonSummary) bool { return s.Reason == "hashed" })
				if r.Sent < trafficPackets*9/10 || hashed < 0 || r.ByReason[hashed].Sent < 100 {
					t.Errorf("sent %d packets, by reason %+v: want most of %d, 100 or more hashed", r.Sent, r.ByReason, trafficPackets)
				}
				t.Logf("%d packets, %d frames received, by reason %+v", r.Sent, r.Received, r.ByReason)
			})
		}
	}
	for name, s := range d.Switches {
		if calls := s.Calls.Take(); verifytest.Disturbing(calls) != 0 {
			t.Errorf("%s: calls while verify traffic ran: %v; want reads only", name, calls)
		}
	}
	for name, b := range before {
		if diff := cmp.Diff(b, stateOf(t, d, name), protocmp.Transform()); diff != "" {
			t.Errorf("%s: state changed (-before +after):\n%s", name, diff)
		}
	}
	if !d.InSync() {
		t.Errorf("the controller is no longer primary and in sync: %+v", d.Controller.Status().Switches)
	}
}

// One bucket corrupted on the server side: exactly the packets of that
// bucket differ, each leaving on the wrong TM's port instead of the right
// one's, and the state differs in that bucket alone; verify state reports
// that bucket alone too.
func TestTrafficCorruptBucket(t *testing.T) {
	for _, kind := range kinds(t) {
		t.Run(kind, func(t *testing.T) { trafficCorruptBucket(t, kind) })
	}
}

func trafficCorruptBucket(t *testing.T, kind string) {
	skipWithoutBMv2(t, kind)
	d, hosts := vethFigure3(t, kind)
	const sw = "server-side"
	tg := target(t, d, sw)
	// The bucket most of the traffic's packets hash to.
	snap, err := verify.ReadTarget(ctxFor(t), tg)
	if err != nil {
		t.Fatal(err)
	}
	profile, err := verify.Profile(snap, map[uint16]bool{1: true, 2: true, 3: true, 4: true, 5: true})
	if err != nil {
		t.Fatal(err)
	}
	model, err := verify.Model(snap.Entities)
	if err != nil {
		t.Fatal(err)
	}
	perBucket := map[uint16]int{}
	var res swmodel.Result
	for _, p := range vectors.RandomFor(trafficPackets, trafficSeed, profile) {
		model.Process(p.Port, p.Frame, &res)
		if res.Trace.Steered && res.Trace.HasKey && verify.CrossesLink(p.Frame) {
			perBucket[res.Trace.Bucket]++
		}
	}
	bucket := slices.MaxFunc(slices.Collect(maps.Keys(perBucket)), func(a, b uint16) int { return perBucket[a] - perBucket[b] })
	owner, wrong := corruptOne(t, d, bucket)
	right, bad := d.Config.TM(owner).Ports[sw].Port, d.Config.TM(wrong).Ports[sw].Port

	r, err := verify.Traffic(ctxFor(t), verify.TrafficOptions{Target: tg, Ports: hosts[sw], Random: trafficPackets, Seed: trafficSeed, Burst: burst[kind],
		Config: d.Config, Controller: &adminapi.Client{URL: d.AdminURL}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Differences) != perBucket[bucket] {
		t.Errorf("%d packets differ, want the %d of bucket %d", len(r.Differences), perBucket[bucket], bucket)
	}
	for _, diff := range r.Differences {
		if diff.Bucket == nil || *diff.Bucket != bucket || diff.Group != 1 ||
			len(diff.Want) != 1 || len(diff.Got) != 1 || diff.Want[0].Port != right || diff.Got[0].Port != bad {
			t.Errorf("a difference other than bucket %d leaving on port %d instead of %d: %s", bucket, bad, right, diff)
		}
	}
	if len(r.StateDifferences) != 1 {
		t.Errorf("state differences %v, want the one bucket", r.StateDifferences)
	}
	t.Logf("bucket %d (%s -> %s): %d packets differ; state: %v", bucket, owner, wrong, len(r.Differences), r.StateDifferences)
	sr, err := verify.State(ctxFor(t), verify.StateOptions{Config: d.Config, Controller: &adminapi.Client{URL: d.AdminURL}})
	if err != nil {
		t.Fatal(err)
	}
	var checks []string
	for _, p := range sr.Problems {
		checks = append(checks, p.Check)
		if p.Bucket == nil || *p.Bucket != int(bucket) {
			t.Errorf("verify state: a problem not about bucket %d: %s", bucket, p)
		}
	}
	slices.Sort(checks)
	if diff := cmp.Diff([]string{"bucket_owner", "distributors_differ"}, checks); diff != "" {
		t.Errorf("verify state checks (-want +got):\n%s", diff)
	}
}

// skipWithoutBMv2 skips the bmv2 variant where bmv2 is not installed.
func skipWithoutBMv2(t *testing.T, kind string) {
	t.Helper()
	if why := ifswitch.BMv2Missing(); kind == "bmv2" && why != "" {
		t.Skip(why)
	}
}
