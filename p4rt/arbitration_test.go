// SPDX-License-Identifier: Apache-2.0

package p4rt_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/p4rt"
	"github.com/symdist/symdist/p4rtserver"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/testing/protocmp"
)

// A session whose first arbitration answer is NOT_FOUND claims the switch:
// the switch has no primary but remembers a higher election id than the
// session's own (a peer claimed it with 21, then stopped). This is how a
// controller pair restarts after both stopped: the first one back must
// become primary, not wait as a backup of nobody (issue 24's restart bug:
// the claim used to go out only for a NOT_FOUND after the first answer).
func TestSessionClaimsSwitchWithNoPrimaryOnFirstAnswer(t *testing.T) {
	srv := p4rtserver.New(p4rtserver.Config{DeviceID: 1, Logger: slog.New(slog.DiscardHandler)})
	g := grpc.NewServer(srv.ServerOptions()...)
	srv.Register(g)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(ln)
	t.Cleanup(g.Stop)

	tests := []struct {
		name   string
		before []uint64 // election ids of sessions opened and closed first
		id     uint64
		want   uint64 // the election id the session ends primary with
	}{
		{"fresh switch", nil, 20, 20},
		{"own id the highest seen", []uint64{20}, 20, 20},
		{"a higher id seen, no primary", []uint64{21}, 20, 22},
		{"a much higher id seen", []uint64{100}, 10, 101},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, id := range tt.before {
				s := open(t, ln.Addr().String(), id)
				waitPrimary(t, s, true)
				s.Close()
				<-s.Done()
			}
			s := open(t, ln.Addr().String(), tt.id)
			defer s.Close()
			waitPrimary(t, s, true)
			if diff := cmp.Diff(&p4v1.Uint128{Low: tt.want}, s.ElectionID, protocmp.Transform()); diff != "" {
				t.Errorf("primary with election id (-want +got):\n%s", diff)
			}
		})
	}
}

func open(t *testing.T, addr string, id uint64) *p4rt.Session {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// The stream lives as long as ctx: until the test ends.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := p4rt.Open(ctx, conn, 1, id, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func waitPrimary(t *testing.T, s *p4rt.Session, want bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		primary, changed := s.Primary()
		if primary == want {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("session with election id %v: primary=%v after 10 s, want %v", s.ElectionID, primary, want)
		}
	}
}
