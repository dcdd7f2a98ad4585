// SPDX-License-Identifier: Apache-2.0

package swmodel_test

import (
	"net"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/vectors"
	"google.golang.org/protobuf/proto"
)

// Read hands entities to its callback without holding the pipeline: a
// callback that blocks (a client that reads slowly) holds up neither
// writes nor packets. Here the callback waits for writes to complete:
// every entry of the table read last deleted, and l2_forward entries
// inserted. The Read is a
// snapshot all the same: it returns what the pipeline held when it began.
func TestReadCallbackDoesNotHoldThePipeline(t *testing.T) {
	p := newFixture(t)
	ids, err := p4info.MustLoad().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	b := entries.Builder{IDs: ids}
	all := &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{}}}
	var want, got []*p4v1.Entity
	if err := p.Read(all, func(e *p4v1.Entity) error { want = append(want, e); return nil }); err != nil {
		t.Fatal(err)
	}
	var changes []*p4v1.Update
	last := want[len(want)-1].GetTableEntry().GetTableId()
	for _, e := range want {
		if e.GetTableEntry().GetTableId() == last {
			changes = append(changes, entries.Update(p4v1.Update_DELETE, e))
		}
	}
	for i := range 3 {
		changes = append(changes, entries.Update(p4v1.Update_INSERT, b.L2Forward(net.HardwareAddr{2, 0x42, 0, 0, 0x99, byte(i)}, vectors.PortServer)))
	}
	err = p.Read(all, func(e *p4v1.Entity) error {
		if len(got) == 0 {
			done := make(chan error, 1)
			go func() { done <- p.WriteAll(changes) }()
			select {
			case err := <-done:
				if err != nil {
					return err
				}
			case <-time.After(10 * time.Second):
				t.Fatal("a write waited for a Read's callback")
			}
		}
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d entries during the writes, want the %d there were when the Read began", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(want[i], got[i]) {
			t.Fatalf("entry %d: got %v, want %v", i, got[i], want[i])
		}
	}
}
