// SPDX-License-Identifier: Apache-2.0

package swmodel

import (
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/vectors"
)

// A Write batch holds the store for its whole length, but packets must not
// wait for the batch: they only wait for the one update being applied.
// Here the store is held as a batch in progress holds it between two
// updates, and Process must still complete (before issue 11's fix it
// waited for the whole batch: 11 s for 1,024 classifier entries).
func TestProcessDoesNotWaitForABatch(t *testing.T) {
	p, err := New(p4info.MustLoad())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WriteAll(vectors.State(p.ids)); err != nil {
		t.Fatal(err)
	}
	frame := vectors.Flow(layers.IPProtocolTCP, vectors.ClientV4, 51234, vectors.VIPV4, 80, nil)
	p.mu.Lock() // a batch between two updates
	defer p.mu.Unlock()
	done := make(chan Trace, 1)
	go func() {
		var res Result
		p.Process(vectors.PortClient, frame, &res)
		done <- res.Trace
	}()
	select {
	case tr := <-done:
		if !tr.Steered {
			t.Errorf("trace %v, want the packet steered", tr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Process waited for a Write batch holding the store")
	}
}
