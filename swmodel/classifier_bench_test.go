// SPDX-License-Identifier: Apache-2.0

package swmodel_test

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swmodel"
	"github.com/symdist/symdist/vectors"
)

// fullClassifier is n group_classifier inserts with distinct priorities
// and prefixes, as the controller writes them: one batch.
func fullClassifier(ids *p4info.IDs, n int) []*p4v1.Update {
	b := entries.Builder{IDs: ids}
	out := make([]*p4v1.Update, 0, n)
	for i := range n {
		src := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
		out = append(out, entries.Update(p4v1.Update_INSERT, b.GroupClassifier(entries.Classifier{
			Priority: int32(1 + i%100), IPVersion: 4, Src: src, Proto: uint8(layers.IPProtocolTCP), Group: uint16(1 + i%16)})))
	}
	return out
}

// Programming a full classifier (1,024 entries, one Write batch) into a
// fresh pipeline. Issue 11 asks for under 100 ms.
func BenchmarkClassifierProgram(b *testing.B) {
	schema := p4info.MustLoad()
	ids, err := schema.Resolve()
	if err != nil {
		b.Fatal(err)
	}
	size := int(schema.Tables[ids.GroupClassifier.Table].GetSize())
	updates := fullClassifier(ids, size)
	for b.Loop() {
		p, err := swmodel.New(schema)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.WriteAll(updates); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size), "entries")
}

// The longest a packet waits while a writer programs a full classifier:
// one goroutine forwards packets back to back and records the longest
// Process call, while another writes the 1,024 entries in one batch.
// Issue 11 asks for at most 1 ms. On a shared machine the OS alone can
// stall a goroutine for milliseconds, so the same measurement is made with
// the writer programming another pipeline (the same CPU work, no shared
// lock): the difference between the two is what the writer's locking
// costs. Metrics: max-stall-us (the longest over all iterations) and
// stalls>1ms (how many packets took over 1 ms, per iteration).
func BenchmarkForwardingStallWhileProgramming(b *testing.B) {
	for _, target := range []string{"this-pipeline", "other-pipeline"} {
		b.Run("writer="+target, func(b *testing.B) { benchmarkStall(b, target == "this-pipeline") })
	}
}

func benchmarkStall(b *testing.B, sameLock bool) {
	schema := p4info.MustLoad()
	ids, err := schema.Resolve()
	if err != nil {
		b.Fatal(err)
	}
	// The fixture has classifier rules of its own: fill the table up.
	fixture := vectors.State(ids)
	free := int(schema.Tables[ids.GroupClassifier.Table].GetSize())
	for _, u := range fixture {
		if u.GetEntity().GetTableEntry().GetTableId() == ids.GroupClassifier.Table {
			free--
		}
	}
	updates := fullClassifier(ids, free)
	frame := vectors.Flow(layers.IPProtocolTCP, vectors.ClientV4, 51234, vectors.VIPV4, 80, nil)
	newPipeline := func() *swmodel.Pipeline {
		p, err := swmodel.New(schema)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.WriteAll(fixture); err != nil {
			b.Fatal(err)
		}
		return p
	}
	var worst time.Duration
	var slow, packets int64
	for b.Loop() {
		b.StopTimer()
		fwd := newPipeline()
		written := fwd
		if !sameLock {
			written = newPipeline()
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		var longest time.Duration
		var n, over int64
		started := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res swmodel.Result
			close(started)
			for !stop.Load() {
				t0 := time.Now()
				fwd.Process(vectors.PortClient, frame, &res)
				d := time.Since(t0)
				longest = max(longest, d)
				if d > time.Millisecond {
					over++
				}
				n++
			}
		}()
		<-started
		b.StartTimer()
		if err := written.WriteAll(updates); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		stop.Store(true)
		wg.Wait()
		worst = max(worst, longest)
		packets += n
		slow += over
		b.StartTimer()
	}
	b.ReportMetric(float64(worst.Microseconds()), "max-stall-us")
	b.ReportMetric(float64(slow)/float64(b.N), "stalls>1ms")
	b.ReportMetric(float64(packets)/float64(b.N), "packets/op")
}
