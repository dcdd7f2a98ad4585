// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/symdist/symdist/adminapi"
)

// Which switches a controller primary of some switches leaves to a peer
// that is primary of others: only to a peer that outranks it (configured
// election_id, then instance) and only the switches that peer reaches.
func TestSplitLeave(t *testing.T) {
	sw := func(name string, connected, primary bool) adminapi.PairSwitch {
		return adminapi.PairSwitch{Name: name, Connected: connected, Primary: primary}
	}
	peer := func(id uint64, instance string, switches ...adminapi.PairSwitch) adminapi.Pair {
		return adminapi.Pair{ElectionID: id, Instance: instance, Role: adminapi.RolePrimary, Switches: switches}
	}
	const me, myInstance = 10, "m"
	tests := []struct {
		name         string
		mine, theirs []string
		peers        map[string]adminapi.Pair
		want         []string
		wantPeer     string
	}{
		{"higher peer holds theirs and reaches ours", []string{"s1"}, []string{"s2"},
			map[string]adminapi.Pair{"http://b": peer(20, "x", sw("s1", true, false), sw("s2", true, true))}, []string{"s1"}, "http://b"},
		{"lower peer: keep ours, it steps down", []string{"s1"}, []string{"s2"},
			map[string]adminapi.Pair{"http://b": peer(5, "x", sw("s1", true, false), sw("s2", true, true))}, nil, ""},
		{"same election id, higher instance", []string{"s1"}, []string{"s2"},
			map[string]adminapi.Pair{"http://b": peer(me, "z", sw("s1", true, false), sw("s2", true, true))}, []string{"s1"}, "http://b"},
		{"same election id, lower instance", []string{"s1"}, []string{"s2"},
			map[string]adminapi.Pair{"http://b": peer(me, "a", sw("s1", true, false), sw("s2", true, true))}, nil, ""},
		{"higher peer does not reach ours: a split the network forces", []string{"s1"}, []string{"s2"},
			map[string]adminapi.Pair{"http://b": peer(20, "x", sw("s1", false, false), sw("s2", true, true))}, nil, ""},
		{"higher peer reaches one of ours", []string{"s1", "s3"}, []string{"s2"},
			map[string]adminapi.Pair{"http://b": peer(20, "x", sw("s1", true, false), sw("s2", true, true), sw("s3", false, false))}, []string{"s1"}, "http://b"},
		{"the peer is not primary of theirs (an unknown controller is)", []string{"s1"}, []string{"s2"},
			map[string]adminapi.Pair{"http://b": peer(20, "x", sw("s1", true, false), sw("s2", true, false))}, nil, ""},
		{"no peer heard from", []string{"s1"}, []string{"s2"}, nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, gotPeer := splitLeave(tt.mine, tt.theirs, tt.peers, me, myInstance)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" || gotPeer != tt.wantPeer {
				t.Errorf("splitLeave = %v, %q; want %v, %q (-want +got):\n%s", got, gotPeer, tt.want, tt.wantPeer, diff)
			}
		})
	}
}
