// SPDX-License-Identifier: Apache-2.0

package p4rtserver_test

import (
	"context"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Stop ends the open streams at once (the controller sees UNAVAILABLE, not
// a stream that hangs), and closes what is still running after the grace
// period: here a Read whose client never reads, which GracefulStop alone
// would wait for forever.
func TestStopEndsStreamsAndStuckReads(t *testing.T) {
	h, primary := ready(t)
	backup := h.connect(nil)
	backup.wantArbitration(codes.AlreadyExists, eid(1))

	conn, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	all := &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{}}}
	stuck, err := p4v1.NewP4RuntimeClient(conn).Read(context.Background(), &p4v1.ReadRequest{DeviceId: deviceID, Entities: []*p4v1.Entity{all}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the Read fills its window

	stopped := make(chan struct{})
	go func() {
		h.srv.Stop(h.g, 200*time.Millisecond)
		close(stopped)
	}()
	primary.wantClosed(codes.Unavailable)
	backup.wantClosed(codes.Unavailable)
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop still waiting 10 s after a 200 ms grace period")
	}
	for {
		if _, err := stuck.Recv(); err != nil {
			if status.Code(err) == codes.OK {
				t.Errorf("the unread Read ended with %v, want an error", err)
			}
			break
		}
	}
}

// After Shutdown the server takes no new stream or Read.
func TestShutdownRefusesNewWork(t *testing.T) {
	h, primary := ready(t)
	h.srv.Shutdown()
	primary.wantClosed(codes.Unavailable)
	s := h.connect(eid(2))
	s.wantClosed(codes.Unavailable)
	if _, _, err := h.readAll(&p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{}}}); status.Code(err) != codes.Unavailable {
		t.Errorf("Read after Shutdown: %v, want UNAVAILABLE", err)
	}
	h.srv.Shutdown() // twice is fine
}
