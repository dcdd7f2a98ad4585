// SPDX-License-Identifier: Apache-2.0

package swmodel

import (
	"testing"

	"github.com/google/gopacket/layers"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/vectors"
)

// A group's bucket_mask entry sets its bucket count: at B = 65,536 the
// bucket is the hash's low 16 bits; without an entry the group has
// BucketCount buckets.
func TestBucketMask(t *testing.T) {
	p, b := newStateFixture(t)
	flow := vectors.Flow(layers.IPProtocolTCP, vectors.ClientV4, 51234, vectors.VIPV4, 80, nil)
	var res Result
	p.Process(vectors.PortClient, flow, &res)
	group, hash := res.Trace.Group, res.Trace.Hash
	if got, want := res.Trace.Bucket, uint16(hash&(BucketCount-1)); got != want {
		t.Fatalf("without bucket_mask: bucket %d, want %d", got, want)
	}
	wide := uint16(hash & 0xffff)
	if wide < BucketCount {
		t.Fatalf("the fixture flow's hash %#x has no bit above the 4,096 buckets: pick another flow", hash)
	}
	write := func(op p4v1.Update_Type, es ...*p4v1.Entity) {
		t.Helper()
		var us []*p4v1.Update
		for _, e := range es {
			us = append(us, entries.Update(op, e))
		}
		if err := p.WriteAll(us); err != nil {
			t.Fatal(err)
		}
	}
	write(p4v1.Update_INSERT, b.BucketMask(group, 1<<16))
	p.Process(vectors.PortClient, flow, &res)
	if res.Trace.Bucket != wide || res.Trace.TM != vectors.TMs[vectors.DefaultTMOf[group]].ID {
		t.Errorf("B = 65,536, no entry for bucket %d: %v, want that bucket and the default TM", wide, res.Trace)
	}
	write(p4v1.Update_INSERT, b.Bucket(group, wide, 102))
	p.Process(vectors.PortClient, flow, &res)
	if res.Trace.Bucket != wide || res.Trace.TM != vectors.TMs[2].ID || res.Trace.Reason != ReasonHashed {
		t.Errorf("B = 65,536, bucket %d to TM %d: got %v", wide, vectors.TMs[2].ID, res.Trace)
	}
	write(p4v1.Update_DELETE, b.BucketMask(group, 1<<16))
	p.Process(vectors.PortClient, flow, &res)
	if got, want := res.Trace.Bucket, uint16(hash&(BucketCount-1)); got != want {
		t.Errorf("bucket_mask deleted: bucket %d, want %d", got, want)
	}
}
