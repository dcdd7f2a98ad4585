// SPDX-License-Identifier: Apache-2.0

package verify_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/symdist/symdist/adminapi"

	"github.com/google/go-cmp/cmp"
	"github.com/symdist/symdist/swswitch"
	"github.com/symdist/symdist/test/verifytest"
	"github.com/symdist/symdist/verify"
	"google.golang.org/protobuf/testing/protocmp"
)

func figure3(t *testing.T) *verifytest.Deployment {
	return verifytest.Figure3(t, "..", func(string) map[uint16]swswitch.Port { return verifytest.PipePorts(5) })
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// The ways verify state learns which TMs are up, and what it reads.
func stateOptions(d *verifytest.Deployment) map[string]verify.StateOptions {
	ctrl := &adminapi.Client{URL: d.AdminURL}
	one := verify.Targets(d.Config)[1:]
	return map[string]verify.StateOptions{
		"controller":            {Config: d.Config, Controller: ctrl},
		"health":                {Config: d.Config, Health: true},
		"presumed":              {Config: d.Config},
		"one switch":            {Config: d.Config, Targets: one, Controller: ctrl},
		"one switch, no config": {Targets: one},
	}
}

// Figure 3 as the controller programs it holds what it must: no problem,
// however verify learns which TMs are up.
func TestStateFigure3(t *testing.T) {
	d := figure3(t)
	verifytest.CheckState(t, d.Controller)
	for name, o := range stateOptions(d) {
		t.Run(name, func(t *testing.T) {
			r, err := verify.State(ctxFor(t), o)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Problems) != 0 {
				t.Errorf("%d problems, want none: %v", len(r.Problems), r.Problems)
			}
			for _, s := range r.Switches {
				if len(s.Groups) != 1 || s.Groups[0].Buckets != 4096 {
					t.Errorf("%s: groups %+v, want one of 4096 buckets", s.Name, s.Groups)
				}
			}
		})
	}
}

// corruptOne points one bucket of web on the server side at another TM of
// the group, through a second client with a higher election id, and
// returns the bucket.
func corruptOne(t *testing.T, d *verifytest.Deployment, bucket uint16) (owner, wrong string) {
	t.Helper()
	table, err := d.Controller.Buckets("web")
	if err != nil {
		t.Fatal(err)
	}
	owner = table[bucket]
	wrong = "tm1"
	if owner == "tm1" {
		wrong = "tm2"
	}
	t.Cleanup(d.Corrupt(t, "server-side", "web", bucket, wrong))
	return owner, wrong
}

// One bucket corrupted on one switch: the distributors differ there, and
// (with the controller's table to go by) that switch's bucket names the
// wrong TM; nothing else.
func TestStateCorruptBucket(t *testing.T) {
	d := figure3(t)
	const bucket = 1234
	corruptOne(t, d, bucket)
	if err := verify.CheckDeployment(ctxFor(t), d.Controller); err == nil || !strings.Contains(err.Error(), "verify state: 2 problems") {
		t.Errorf("CheckDeployment: %v, want the 2 problems of bucket %d", err, bucket)
	}
	for _, tt := range []struct {
		name   string
		o      verify.StateOptions
		checks []string
	}{
		{"controller", verify.StateOptions{Config: d.Config, Controller: &adminapi.Client{URL: d.AdminURL}}, []string{"bucket_owner", "distributors_differ"}},
		{"presumed", verify.StateOptions{Config: d.Config}, []string{"distributors_differ"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := verify.State(ctxFor(t), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			var checks []string
			for _, p := range r.Problems {
				checks = append(checks, p.Check)
				if p.Group != "web" || p.Bucket == nil || *p.Bucket != bucket {
					t.Errorf("a problem not about bucket %d of web: %s", bucket, p)
				}
				if !slices.Contains(p.Switches, "server-side") {
					t.Errorf("a problem not naming server-side: %s", p)
				}
			}
			slices.Sort(checks)
			if diff := cmp.Diff(tt.checks, checks); diff != "" {
				t.Errorf("checks (-want +got):\n%s\nproblems: %v", diff, r.Problems)
			}
		})
	}
}

// verify state never writes: the switches' entries are the same before
// and after, the controller stays primary on both, and no Write,
// SetForwardingPipelineConfig or StreamChannel reached either switch while
// it ran.
func TestStateNeverWrites(t *testing.T) {
	d := figure3(t)
	before := map[string]any{}
	for name, s := range d.Switches {
		before[name] = s.State(t)
		s.Calls.Take()
	}
	for name, o := range stateOptions(d) {
		if _, err := verify.State(ctxFor(t), o); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for name, s := range d.Switches {
		calls := s.Calls.Take()
		if n := verifytest.Disturbing(calls); n != 0 || calls["Read"] == 0 {
			t.Errorf("%s: calls while verify ran: %v; want reads only", name, calls)
		}
		if diff := cmp.Diff(before[name], s.State(t), protocmp.Transform()); diff != "" {
			t.Errorf("%s: state changed (-before +after):\n%s", name, diff)
		}
	}
	if !d.InSync() {
		t.Errorf("the controller is no longer primary and in sync: %+v", d.Controller.Status().Switches)
	}
}
