// SPDX-License-Identifier: Apache-2.0

package swmodel_test

import (
	"net"
	"runtime"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/internal/heap"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swmodel"
)

// BenchmarkBucketTableMemory writes 16 groups x 65,536 bucket entries over
// 128 TMs, in batches of 1,000 as the controller does, and reports the live
// heap they cost per entry and the time per entry written.
func BenchmarkBucketTableMemory(b *testing.B) {
	const groups, buckets, tms = 16, 1 << 16, 128
	for b.Loop() {
		b.StopTimer()
		schema := p4info.MustLoad()
		ids, err := schema.Resolve()
		if err != nil {
			b.Fatal(err)
		}
		p, err := swmodel.New(schema)
		if err != nil {
			b.Fatal(err)
		}
		eb := entries.Builder{IDs: ids}
		var members []*p4v1.Entity
		for i := range tms {
			members = append(members, eb.Member(uint32(i+1), entries.TM{ID: uint16(i + 1), Port: uint16(2 + i%16), MAC: net.HardwareAddr{2, 0, 0, 0, 0, byte(i)}}))
		}
		if err := p.WriteAll(entries.Inserts(members...)); err != nil {
			b.Fatal(err)
		}
		before := heap.Live()
		start := time.Now()
		b.StartTimer()
		batch := make([]*p4v1.Entity, 0, 1000)
		for g := range groups {
			for bucket := range buckets {
				batch = append(batch, eb.Bucket(uint16(g+1), uint16(bucket), uint32(1+(g*buckets+bucket)%tms)))
				if len(batch) == cap(batch) || g == groups-1 && bucket == buckets-1 {
					if err := p.WriteAll(entries.Inserts(batch...)); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(time.Since(start).Nanoseconds())/(groups*buckets), "ns/entry")
		b.ReportMetric(float64(heap.Live()-before)/(groups*buckets), "bytes/entry")
		runtime.KeepAlive(p)
		b.StartTimer()
	}
}
