// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"slices"
	"testing"

	"github.com/symdist/symdist/desired"

	"github.com/google/go-cmp/cmp"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/entries"
)

// Adopting intent: the switches' record replaces this controller's, except
// for drains given to it that not every switch holds yet, which are newer
// (and stay pending until written everywhere); switches that hold no TM
// entry (restarted empty) change nothing.
func TestAdoptIntent(t *testing.T) {
	tests := []struct {
		name     string
		local    map[string]bool // drained here before adoption
		edited   []string        // drains given that not every switch holds
		switches switchIntent
		want     map[string]bool
	}{
		{"switches' drains adopted", map[string]bool{}, nil,
			switchIntent{found: true, drained: map[string]bool{"tm2": true}},
			map[string]bool{"tm1": false, "tm2": true, "tm3": false}},
		{"switches' undrain adopted", map[string]bool{"tm2": true}, nil,
			switchIntent{found: true, drained: map[string]bool{}},
			map[string]bool{"tm1": false, "tm2": false, "tm3": false}},
		{"a newer local undrain wins", map[string]bool{"tm2": false}, []string{"tm2"},
			switchIntent{found: true, drained: map[string]bool{"tm2": true, "tm3": true}},
			map[string]bool{"tm1": false, "tm2": false, "tm3": true}},
		{"empty switches keep ours", map[string]bool{"tm1": true}, nil,
			switchIntent{found: false, drained: map[string]bool{}},
			map[string]bool{"tm1": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(testConfig(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			c.drained = tt.local
			for _, tm := range tt.edited {
				c.rt.noteEdit(tm, 7)
			}
			c.mu.Lock()
			c.adoptIntentLocked(tt.switches)
			c.mu.Unlock()
			if diff := cmp.Diff(tt.want, c.drained); diff != "" {
				t.Errorf("drained (-want +got):\n%s", diff)
			}
			if len(c.rt.edited) != len(tt.edited) {
				t.Errorf("pending edits after the adoption: %v, want %v (until written everywhere)", c.rt.edited, tt.edited)
			}
		})
	}
}

// Reading intent back: only symdist's own records of TMs the config has
// count; an entry of a TM without metadata says the switch is programmed
// (so its absence of drains is news); other entries say nothing.
func TestCollectIntent(t *testing.T) {
	cfg := testConfig(t)
	b := builder(t)
	l2 := func(mac string, md string) *p4v1.Entity {
		e := b.L2Forward(config.ParseMAC(mac), 2)
		e.GetTableEntry().Metadata = []byte(md)
		return entries.Canonicalize(e)
	}
	tm1MAC := cfg.TM("tm1").Ports["client-side"].MAC
	tests := []struct {
		name string
		es   []*p4v1.Entity
		want switchIntent
	}{
		{"a drain record", []*p4v1.Entity{desired.WithIntent(l2(tm1MAC, ""), "tm2", true)},
			switchIntent{found: true, drained: map[string]bool{"tm2": true}}},
		{"a TM's entry without metadata", []*p4v1.Entity{l2(tm1MAC, "")},
			switchIntent{found: true, drained: map[string]bool{}}},
		{"a host's entry", []*p4v1.Entity{l2("02:aa:00:00:00:01", "")},
			switchIntent{found: false, drained: map[string]bool{}}},
		{"foreign metadata", []*p4v1.Entity{l2("02:aa:00:00:00:01", "cookie 7")},
			switchIntent{found: false, drained: map[string]bool{}}},
		{"another version", []*p4v1.Entity{l2(tm1MAC, `{"symdist_intent":2,"tm":"tm1","drained":true}`)},
			switchIntent{found: false, drained: map[string]bool{}}},
		{"a TM the config lacks", []*p4v1.Entity{l2(tm1MAC, `{"symdist_intent":1,"tm":"tm9","drained":true}`)},
			switchIntent{found: false, drained: map[string]bool{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := switchIntent{drained: map[string]bool{}}
			collectIntent(cfg, tt.es, &got)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(switchIntent{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// An edit is forgotten once every switch holds its generation, not before.
func TestEditsPendingUntilWrittenEverywhere(t *testing.T) {
	tests := []struct {
		name    string
		synced  uint64 // the oldest generation any switch holds
		pending []string
	}{
		{"no switch has it", 4, []string{"tm1", "tm2"}},
		{"the first edit is everywhere", 5, []string{"tm2"}},
		{"both are", 9, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rt runtimeState
			rt.noteEdit("tm1", 5)
			rt.noteEdit("tm2", 6)
			rt.writtenEverywhere(tt.synced)
			var got []string
			for tm := range rt.edited {
				got = append(got, tm)
			}
			slices.Sort(got)
			if diff := cmp.Diff(tt.pending, got); diff != "" {
				t.Errorf("pending (-want +got):\n%s", diff)
			}
		})
	}
}
