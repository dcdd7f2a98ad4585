// SPDX-License-Identifier: Apache-2.0

package p4rtserver_test

import (
	"testing"
	"time"

	"github.com/symdist/symdist/p4rtserver"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Streams without an election_id (observers: they may only read) have a
// place of their own: however many a local process opens, a controller
// that arbitrates with an election_id is served (issue 11, item 6: 256 of
// them used to lock the controller out with "too many controllers").
func TestObserversCannotLockOutAController(t *testing.T) {
	h := newHarness(t)
	served, refused := 0, 0
	streams := make([]*ctlStream, p4rtserver.MaxControllers+1)
	for i := range streams {
		streams[i] = h.connect(nil)
	}
	for _, s := range streams {
		select {
		case m := <-s.msgs:
			if got := codes.Code(m.GetArbitration().GetStatus().GetCode()); got != codes.NotFound {
				t.Fatalf("observer got %v, want NOT_FOUND (no primary)", m)
			}
			served++
		case err := <-s.done:
			if status.Code(err) != codes.ResourceExhausted {
				t.Fatalf("observer stream ended with %v, want RESOURCE_EXHAUSTED", err)
			}
			refused++
		case <-time.After(wait):
			t.Fatal("no reply to an observer")
		}
	}
	if served != p4rtserver.MaxObservers || refused != len(streams)-p4rtserver.MaxObservers {
		t.Errorf("%d observers served, %d refused; want %d served", served, refused, p4rtserver.MaxObservers)
	}
	h.primary(1)
}

// Streams with an election_id: up to MaxControllers are served, one more
// is refused with RESOURCE_EXHAUSTED, and a freed place can be taken
// again.
func TestArbitrationManyControllers(t *testing.T) {
	h := newHarness(t)
	// Decreasing election_ids: each newcomer is a backup and only it is
	// told (an increasing one would notify every stream each time).
	streams := make([]*ctlStream, p4rtserver.MaxControllers)
	top := uint64(1000)
	for i := range streams {
		streams[i] = h.connect(eid(top - uint64(i)))
		if i == 0 {
			streams[i].wantArbitration(codes.OK, eid(top))
		} else {
			streams[i].wantArbitration(codes.AlreadyExists, eid(top))
		}
	}
	h.connect(eid(1)).wantClosed(codes.ResourceExhausted)

	streams[len(streams)-1].close()
	deadline := time.Now().Add(wait)
	for {
		// Retry until the server has seen the stream go.
		s := h.connect(eid(1))
		select {
		case m := <-s.msgs:
			if got := codes.Code(m.GetArbitration().GetStatus().GetCode()); got != codes.AlreadyExists {
				t.Fatalf("got %v, want to be a backup", m)
			}
			return
		case err := <-s.done:
			if status.Code(err) != codes.ResourceExhausted || time.Now().After(deadline) {
				t.Fatalf("stream ended with %v, want a place once one is freed", err)
			}
			time.Sleep(10 * time.Millisecond)
		case <-time.After(wait):
			t.Fatal("no reply")
		}
	}
}
