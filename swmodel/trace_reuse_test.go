// SPDX-License-Identifier: Apache-2.0

package swmodel_test

import (
	"net/netip"
	"testing"

	"github.com/symdist/symdist/swmodel"
	"github.com/symdist/symdist/vectors"
)

// Process sets every field of a reused Result's trace: after any earlier
// packet, each golden vector's trace is the one a fresh Result gets.
func TestTraceReuse(t *testing.T) {
	p := newFixture(t)
	vs, err := vectors.ReadSTFFile("../test/vectors/symdist.stf")
	if err != nil {
		t.Fatal(err)
	}
	// Every field set, to values no vector's trace has all of.
	dirty := swmodel.Trace{IngressPort: 999, PortRole: 7, Group: 999, HasKey: true,
		KeyAddr: netip.MustParseAddr("2001:db8::dead"), KeyPort: 999, Hash: 0xdeadbeef,
		Bucket: 999, Steered: true, TM: 999, Reason: 99, Multicast: 999, Drop: 99}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			var fresh swmodel.Result
			p.Process(v.Port, v.Frame, &fresh)
			reused := swmodel.Result{Trace: dirty}
			p.Process(v.Port, v.Frame, &reused)
			if reused.Trace != fresh.Trace {
				t.Errorf("reused trace %+v, fresh %+v", reused.Trace, fresh.Trace)
			}
			for _, u := range vs {
				p.Process(u.Port, u.Frame, &reused)
				p.Process(v.Port, v.Frame, &reused)
				if reused.Trace != fresh.Trace {
					t.Fatalf("after %s: trace %+v, want %+v", u.Name, reused.Trace, fresh.Trace)
				}
			}
		})
	}
}
