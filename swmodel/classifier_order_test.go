// SPDX-License-Identifier: Apache-2.0

package swmodel

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
)

// The classifier's rule list, kept in order one insert or delete at a
// time, is always the stored entries sorted as the table matches them,
// whatever the order of inserts, modifies and deletes (few priorities, so
// many ties).
func TestClassifierOrderFollowsWrites(t *testing.T) {
	p, err := New(p4info.MustLoad())
	if err != nil {
		t.Fatal(err)
	}
	b := entries.Builder{IDs: p.ids}
	rng := rand.New(rand.NewPCG(11, 4))
	rule := func() *p4v1.Entity {
		c := entries.Classifier{Priority: 1 + rng.Int32N(3), Group: uint16(1 + rng.IntN(4))}
		if rng.IntN(2) == 0 {
			c.IPVersion = 4
			c.Src = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(rng.IntN(64)), 0, 0}), 16)
		} else {
			c.VLAN = uint16(1 + rng.IntN(3))
			c.Proto = uint8(6 + 11*rng.IntN(2))
		}
		return b.GroupClassifier(c)
	}
	var written []*p4v1.Entity
	for step := range 2000 {
		var u *p4v1.Update
		switch op := rng.IntN(5); {
		case op == 0 && len(written) > 0:
			i := rng.IntN(len(written))
			u = entries.Update(p4v1.Update_DELETE, written[i])
			written = slices.Delete(written, i, i+1)
		case op == 1 && len(written) > 0:
			e := written[rng.IntN(len(written))]
			te := e.GetTableEntry()
			te.Action = rule().GetTableEntry().GetAction() // another group
			u = entries.Update(p4v1.Update_MODIFY, e)
		default:
			e := rule()
			u = entries.Update(p4v1.Update_INSERT, e)
			if err := p.Write([]*p4v1.Update{u})[0]; err != nil {
				continue // already there
			}
			written = append(written, e)
			u = nil
		}
		if u != nil {
			if err := p.WriteAll([]*p4v1.Update{u}); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		}
		var want []classifierRule
		for _, e := range p.store.entries[p.ids.GroupClassifier.Table] {
			want = append(want, p.classifierRuleOf(e))
		}
		slices.SortFunc(want, compareRules)
		if !slices.Equal(want, p.t.classifier) {
			t.Fatalf("step %d: rules\n%v\nwant\n%v", step, p.t.classifier, want)
		}
		// What packets scan: the published rules for each IP version.
		for i, version := range []uint8{4, 6} {
			wantFor := slices.DeleteFunc(slices.Clone(want), func(r classifierRule) bool { return version&r.verMask != r.verValue })
			if got := p.view.Load().classifierFor[i]; !slices.Equal(wantFor, got) {
				t.Fatalf("step %d: IPv%d rules\n%v\nwant\n%v", step, version, got, wantFor)
			}
		}
	}
	if len(written) < 50 {
		t.Errorf("only %d rules at the end: the test exercised little", len(written))
	}
}
