// SPDX-License-Identifier: Apache-2.0

package verify_test

import (
	"maps"
	"slices"
	"testing"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swmodel"
	"github.com/symdist/symdist/swswitch"
	"github.com/symdist/symdist/test/verifytest"
	"github.com/symdist/symdist/vectors"
	"github.com/symdist/symdist/verify"
)

// cable connects a switch port and a host port in process: what one
// writes, the other reads.
func cable() (sw, host *swswitch.PipePort) {
	sw = swswitch.NewPipePort(func(f []byte) { host.Inject(f) })
	host = swswitch.NewPipePort(func(f []byte) { sw.Inject(f) })
	return sw, host
}

// The runner puts every difference down to the packet that caused it:
// the switch against a model holding its own state, one bucket moved,
// and the edge port unknown (the model drops what the switch forwards).
// No root: the ports are in-process cables.
func TestRunnerAttributes(t *testing.T) {
	hosts := map[uint16]*verify.HostPort{}
	d := verifytest.Figure3(t, "..", func(sw string) map[uint16]swswitch.Port {
		ports := map[uint16]swswitch.Port{}
		for p := uint16(1); p <= 5; p++ {
			s, h := cable()
			ports[p] = s
			if sw == "client-side" {
				hosts[p] = verify.NewHostPort(h)
				t.Cleanup(hosts[p].Close)
			}
		}
		return ports
	})
	snap, err := verify.ReadTarget(ctxFor(t), target(t, d, "client-side"))
	if err != nil {
		t.Fatal(err)
	}
	profile, err := verify.Profile(snap, map[uint16]bool{1: true, 2: true, 3: true, 4: true, 5: true})
	if err != nil {
		t.Fatal(err)
	}
	pkts := vectors.RandomFor(2000, 9, profile)
	ids, _ := p4info.MustLoad().Resolve()
	b := entries.Builder{IDs: ids}
	live, err := verify.Model(snap.Entities)
	if err != nil {
		t.Fatal(err)
	}
	// The bucket most packets hash to (not tm3's: it is moved to tm3).
	perBucket := map[uint16]int{}
	var res swmodel.Result
	for _, p := range pkts {
		live.Process(p.Port, p.Frame, &res)
		if res.Trace.Steered && res.Trace.HasKey && res.Trace.TM != 3 {
			perBucket[res.Trace.Bucket]++
		}
	}
	bucket := slices.MaxFunc(slices.Collect(maps.Keys(perBucket)), func(a, b uint16) int { return perBucket[a] - perBucket[b] })
	// with replaces the entity of e's key in the live state.
	with := func(e *p4v1.Entity, drop bool) []*p4v1.Entity {
		e = entries.Canonicalize(e)
		out := slices.DeleteFunc(slices.Clone(snap.Entities), func(x *p4v1.Entity) bool { return entries.Key(x) == entries.Key(e) })
		if !drop {
			out = append(out, e)
		}
		return out
	}
	for _, tt := range []struct {
		name  string
		state []*p4v1.Entity
		check func(t *testing.T, r *verify.TrafficReport)
	}{
		{"own state", snap.Entities, func(t *testing.T, r *verify.TrafficReport) {
			if len(r.Differences) != 0 {
				t.Errorf("%d differences, first %s", len(r.Differences), r.Differences[0])
			}
		}},
		{"a bucket moved", with(b.Bucket(1, bucket, 3), false), func(t *testing.T, r *verify.TrafficReport) {
			if len(r.Differences) != perBucket[bucket] {
				t.Errorf("%d differences, want the %d packets of bucket %d", len(r.Differences), perBucket[bucket], bucket)
			}
			for _, diff := range r.Differences {
				if *diff.Bucket != bucket || len(diff.Want) != 1 || diff.Want[0].Port != 4 || len(diff.Got) != 1 || diff.Got[0].Port == 4 {
					t.Errorf("not a packet of bucket %d wanted on tm3's port 4: %s", bucket, diff)
				}
			}
		}},
		{"edge port unknown to the model", with(b.PortRole(1, 1), true), func(t *testing.T, r *verify.TrafficReport) {
			for _, diff := range r.Differences {
				if diff.Packet < 0 || diff.InPort != 1 || diff.Reason != "drop unknown_port" || len(diff.Want) != 0 || len(diff.Got) == 0 {
					t.Errorf("not a packet from port 1 the model drops: %s", diff)
				}
			}
			n := 0
			for _, s := range r.ByReason {
				n += s.Differ
			}
			if n == 0 || n != len(r.Differences) {
				t.Errorf("%d differences, %d by reason", len(r.Differences), n)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			model, err := verify.Model(tt.state)
			if err != nil {
				t.Fatal(err)
			}
			r, err := (&verify.Runner{Ports: hosts, Model: model}).Run(pkts)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
		})
	}
}
