// SPDX-License-Identifier: Apache-2.0

package p4rtserver_test

import (
	"context"
	"flag"
	"runtime"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4rtserver"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

var unreadReads = flag.Int("unread-reads", 300, "TestUnreadReadsKeepMemoryBounded: how many Reads to leave unread")

// readMemoryBound is what 300 unread Reads, from 20 connections, may add
// to the heap: the MaxConcurrentReads Reads that run hold a pointer per
// entry of their snapshot, a ReadResponse and what gRPC queues before flow
// control stops them; the others wait. Measured: 17 MiB (87-127 MiB, with
// the floating garbage of a GC run while they start, when all came on one
// connection, before MaxReadsPerPeer). Before issue 11's fix each held its
// whole answer: 30 of them added 608 MiB, 300 would add gigabytes.
const readMemoryBound = 256 << 20

// Issue 11's test: 300 wildcard Reads of a switch holding a full bucket
// table (65,536 entries and the fixture), whose answers are never read.
// The heap stays bounded, the primary controller can still read, and
// once the client goes away the server's Reads end.
func TestUnreadReadsKeepMemoryBounded(t *testing.T) {
	h, _ := ready(t)
	p := h.srv.Pipeline()
	b := entries.Builder{IDs: h.ids}
	var fill []*p4v1.Update
	for group := uint16(1); group <= 16; group++ {
		for bucket := range uint16(4096) {
			fill = append(fill, entries.Update(p4v1.Update_INSERT, b.Bucket(group, bucket, 100)))
		}
	}
	p.Write(fill) // the fixture's buckets are there already: ALREADY_EXISTS, then the table is full
	all := &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{}}}
	held := 0
	if err := p.Read(all, func(*p4v1.Entity) error { held++; return nil }); err != nil {
		t.Fatal(err)
	}
	if held < 65536 {
		t.Fatalf("the switch holds %d entries, want at least 65,536", held)
	}
	fill = nil

	goroutines := runtime.NumGoroutine()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	base := heap()

	// Other clients, on connections of their own (so that the global bound
	// is reached, not only MaxReadsPerPeer), never read their answers.
	// Their windows are fixed at 64 KiB, as a real client's are until it
	// reads: gRPC's default grows them, and this process, which is the
	// client too, would buffer megabytes of answers per Read.
	const conns = 20
	var clis []p4v1.P4RuntimeClient
	var closers []*grpc.ClientConn
	for range conns {
		conn, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		closers = append(closers, conn)
		clis = append(clis, p4v1.NewP4RuntimeClient(conn))
	}
	readCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range *unreadReads {
		if _, err := clis[i%conns].Read(readCtx, &p4v1.ReadRequest{DeviceId: deviceID, Entities: []*p4v1.Entity{all}}); err != nil {
			t.Fatal(err)
		}
	}
	var peak uint64
	for range 5 { // each sample is a full GC of a large heap: a few are enough
		time.Sleep(200 * time.Millisecond)
		grown := heap()
		grown -= min(base, grown)
		peak = max(peak, grown)
		if grown > readMemoryBound {
			cancel()
			t.Fatalf("%d unread Reads grew the heap by %d MiB, want at most %d MiB", *unreadReads, grown>>20, readMemoryBound>>20)
		}
	}
	t.Logf("%d unread Reads of %d entries: heap grew by at most %d MiB", *unreadReads, held, peak>>20)

	// The primary's own Read is not queued behind them.
	got, _, err := h.readAll(&p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: h.ids.PortRole.Table}}})
	if err != nil || len(got) == 0 {
		t.Errorf("the primary's Read while %d Reads are unread: %d entities, %v", *unreadReads, len(got), err)
	}
	// Another client waits for one of the MaxConcurrentReads, then gives
	// up.
	late, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	rc, err := p4v1.NewP4RuntimeClient(late).Read(context.Background(), &p4v1.ReadRequest{DeviceId: deviceID, Entities: []*p4v1.Entity{all}})
	if err == nil {
		_, err = rc.Recv()
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a Read past %d in progress: %v, want RESOURCE_EXHAUSTED", p4rtserver.MaxConcurrentReads, err)
	}

	// The clients leave: every Read of the server ends.
	cancel()
	for _, c := range closers {
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutines+8 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after the client left, %d before its Reads", runtime.NumGoroutine(), goroutines)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
