// SPDX-License-Identifier: Apache-2.0

package swmodel

import (
	"maps"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/google/gopacket/layers"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/vectors"
)

func newStateFixture(t testing.TB) (*Pipeline, entries.Builder) {
	t.Helper()
	p, err := New(p4info.MustLoad())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WriteAll(vectors.State(p.ids)); err != nil {
		t.Fatal(err)
	}
	return p, entries.Builder{IDs: p.ids}
}

// A published view is never changed by later batches: a packet that
// started on it decides as before every write of the next batch (bucket,
// classifier, TM address, L2 and multicast), and the next view decides by
// the new state. (A member's action is the exception, by design: it is
// shared by every view, and a MODIFY of it is seen at once.)
func TestViewUnchangedByLaterBatch(t *testing.T) {
	p, b := newStateFixture(t)
	flow := vectors.Flow(layers.IPProtocolTCP, vectors.ClientV4, 51234, vectors.VIPV4, 80, nil)
	toTM := vectors.Flow(layers.IPProtocolTCP, vectors.ClientV4, 51234, vectors.TMAddrV4, 80, nil)
	var res Result
	p.Process(vectors.PortClient, flow, &res)
	group, bucket, tm := res.Trace.Group, res.Trace.Bucket, res.Trace.TM
	if !res.Trace.Steered || res.Trace.Reason != ReasonHashed {
		t.Fatalf("fixture flow not hashed: %v", res.Trace)
	}
	other := vectors.TMs[tm%3] // TMs are 1..3: the next one
	owner := vectors.BucketOwner(group, int(bucket))
	before := p.view.Load()

	mod := func(e *p4v1.Entity) *p4v1.Update { return entries.Update(p4v1.Update_MODIFY, e) }
	del := func(e *p4v1.Entity) *p4v1.Update { return entries.Update(p4v1.Update_DELETE, e) }
	err := p.WriteAll([]*p4v1.Update{
		mod(b.Bucket(group, bucket, uint32(100+other.ID-1))),
		mod(b.Member(uint32(100+(owner+1)%3), vectors.TMs[owner])), // a member the old view does not use for the flow
		del(b.TMAddress(vectors.TMAddrV4, vectors.TMs[0])),
		del(b.L2Forward(vectors.ServerMAC, vectors.PortServer)),
		del(entries.MulticastGroup(vectors.FloodGroup, vectors.FloodPorts)),
		del(b.GroupClassifier(vectors.Classifiers[2])),
		del(b.GroupClassifier(vectors.Classifiers[2].Mirror())),
	})
	if err != nil {
		t.Fatal(err)
	}
	after := p.view.Load()

	decide := func(v *tables, frame []byte) Trace {
		p.view.Store(v)
		p.Process(vectors.PortClient, frame, &res)
		return res.Trace
	}
	if got := decide(before, flow); got.TM != tm || got.Group != group {
		t.Errorf("old view after the batch: flow went to group %d TM %d, want group %d TM %d", got.Group, got.TM, group, tm)
	}
	if got := decide(before, toTM); got.Reason != ReasonDirect {
		t.Errorf("old view after the batch: to TM 1's address gave %v, want reason=direct", got)
	}
	if got := decide(after, flow); got.Group != 0 {
		t.Errorf("new view: flow in group %d, want none (its classifier rule is gone)", got.Group)
	}
	if got := decide(after, toTM); got.Steered {
		t.Errorf("new view: to TM 1's former address gave %v, want bridged", got)
	}
	p.view.Store(after)
}

// Packets processed while batches of writes land see either the old or the
// new owner of their bucket, never anything else; run with -race this also
// holds that Process and Write share no memory unsynchronised.
func TestProcessDuringWrites(t *testing.T) {
	p, b := newStateFixture(t)
	flow := vectors.Flow(layers.IPProtocolTCP, vectors.ClientV4, 51234, vectors.VIPV4, 80, nil)
	var res Result
	p.Process(vectors.PortClient, flow, &res)
	group, bucket, tm := res.Trace.Group, res.Trace.Bucket, res.Trace.TM
	other := vectors.TMs[tm%3]

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res Result
			for {
				select {
				case <-stop:
					return
				default:
				}
				p.Process(vectors.PortClient, flow, &res)
				if got := res.Trace.TM; got != tm && got != other.ID {
					errs <- res.Trace.String()
					return
				}
			}
		}()
	}
	for i := range 200 {
		to, want := uint32(100+other.ID-1), other.ID
		if i%2 == 1 {
			to, want = uint32(100+tm-1), tm
		}
		if err := p.WriteAll([]*p4v1.Update{entries.Update(p4v1.Update_MODIFY, b.Bucket(group, bucket, to))}); err != nil {
			t.Fatal(err)
		}
		var own Result
		if p.Process(vectors.PortClient, flow, &own); own.Trace.TM != want {
			t.Fatalf("after write %d: TM %d, want %d", i, own.Trace.TM, want)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case e := <-errs:
		t.Fatalf("a packet during writes went to %s, want TM %d or %d", e, tm, other.ID)
	default:
	}
}

// A batch never writes into what the published view holds: the view's
// classifier list and TM address maps and filter equal copies taken before
// batches that delete and insert in them, first change a delete (so a list
// changed in place, not reallocated, would show), then more changes in the
// same batch (the in-place path once the batch owns its copy).
func TestBatchLeavesViewUntouched(t *testing.T) {
	p, b := newStateFixture(t)
	ins := func(e *p4v1.Entity) *p4v1.Update { return entries.Update(p4v1.Update_INSERT, e) }
	del := func(e *p4v1.Entity) *p4v1.Update { return entries.Update(p4v1.Update_DELETE, e) }
	extra := vectors.Classifiers[0]
	extra.Priority += 100
	extra2 := extra
	extra2.Priority++
	newAddr := netip.MustParseAddr("10.0.9.9")
	batches := []struct {
		name    string
		updates []*p4v1.Update
	}{
		{"delete then insert", []*p4v1.Update{
			del(b.GroupClassifier(vectors.Classifiers[2])),
			ins(b.GroupClassifier(extra)), ins(b.GroupClassifier(extra2)),
			del(b.TMAddress(vectors.TMAddrV4, vectors.TMs[0])),
			ins(b.TMAddress(newAddr, vectors.TMs[0])),
		}},
		{"insert then delete", []*p4v1.Update{
			ins(b.GroupClassifier(vectors.Classifiers[2])),
			del(b.GroupClassifier(extra)), del(b.GroupClassifier(extra2)),
			ins(b.TMAddress(vectors.TMAddrV4, vectors.TMs[0])),
			del(b.TMAddress(newAddr, vectors.TMs[0])),
		}},
	}
	for _, tt := range batches {
		t.Run(tt.name, func(t *testing.T) {
			view := p.view.Load()
			classifier, v4, filter := slices.Clone(view.classifier), maps.Clone(view.tmAddressV4), *view.maybeTM
			if err := p.WriteAll(tt.updates); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(view.classifier, classifier) {
				t.Error("the published classifier list changed")
			}
			if !maps.Equal(view.tmAddressV4, v4) || *view.maybeTM != filter {
				t.Error("the published TM addresses or their filter changed")
			}
			if next := p.view.Load(); slices.Equal(next.classifier, classifier) || maps.Equal(next.tmAddressV4, v4) {
				t.Error("the batch did not change the next view")
			}
		})
	}
}
