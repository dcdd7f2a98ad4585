package swmodel_test

import (
	"net"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/vectors"
)

// Read hands entities to its callback without holding the pipeline: a
// callback that blocks (a client that reads slowly) holds up neither
// writes nor packets. Here the callback waits for a write to complete.
func TestReadCallbackDoesNotHoldThePipeline(t *testing.T) {
	p := newFixture(t)
	ids, err := p4info.MustLoad().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	b := entries.Builder{IDs: ids}
	n := 0
	all := &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{}}}
	err = p.Read(all, func(*p4v1.Entity) error {
		n++
		if n > 3 {
			return nil
		}
		done := make(chan error, 1)
		go func() {
			e := b.L2Forward(net.HardwareAddr{2, 0x42, 0, 0, 0x99, byte(n)}, vectors.PortServer)
			done <- p.WriteAll([]*p4v1.Update{entries.Update(p4v1.Update_INSERT, e)})
		}()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("a write waited for a Read's callback")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, u := range vectors.State(ids) {
		if u.GetEntity().GetTableEntry() != nil {
			want++
		}
	}
	if n < want {
		t.Errorf("read %d entries, want at least the fixture's %d", n, want)
	}
}
