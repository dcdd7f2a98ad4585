// SPDX-License-Identifier: Apache-2.0

package p4rt

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/symdist/symdist/internal/heap"

	"github.com/google/go-cmp/cmp"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
)

// lyingSwitch answers every Read with what answer sends, in responses of
// perResponse entities, until answer returns nil, the client goes away or
// max entities are sent (so that a test of unbounded code ends).
type lyingSwitch struct {
	p4v1.UnimplementedP4RuntimeServer
	answer      func(i int) *p4v1.Entity
	perResponse int
	max         int
}

func (l *lyingSwitch) Read(_ *p4v1.ReadRequest, s p4v1.P4Runtime_ReadServer) error {
	for i := 0; i < l.max; {
		resp := &p4v1.ReadResponse{}
		for range l.perResponse {
			e := l.answer(i)
			if e == nil {
				break
			}
			resp.Entities = append(resp.Entities, e)
			i++
		}
		if len(resp.Entities) == 0 && l.perResponse > 0 {
			return nil
		}
		if l.perResponse == 0 {
			i++ // an empty response
		}
		if err := s.Send(resp); err != nil {
			return err
		}
	}
	return nil
}

func dialLying(t *testing.T, l *lyingSwitch) p4v1.P4RuntimeClient {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	p4v1.RegisterP4RuntimeServer(gs, l)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return p4v1.NewP4RuntimeClient(conn)
}

// A switch that lies in its Read answer (the same entry again and again,
// entries without end, entries not asked for, huge ones, empty answers
// without end) is refused at the first entity past what its P4Info
// allows, with a bounded heap; an honest full table is read whole.
func TestReadBounded(t *testing.T) {
	b := entries.Builder{IDs: mustIDs(t)}
	sizes, err := p4info.MustLoad().ResolveSizes()
	if err != nil {
		t.Fatal(err)
	}
	l2 := func(i int) *p4v1.Entity {
		return b.L2Forward([]byte{2, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}, 1)
	}
	l2Table := &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: b.IDs.L2Forward.Table}}}
	const many = 300_000 // about 150 MiB of entries when all are kept
	const heapBound = 64 << 20
	tests := []struct {
		name   string
		read   []*p4v1.Entity
		sw     lyingSwitch
		reason string // "" when the answer is taken
		want   int    // entities taken
	}{
		{"the same bucket entry again and again", entries.Wildcards(),
			lyingSwitch{answer: func(int) *p4v1.Entity { return b.Bucket(1, 7, 1) }, perResponse: 1000, max: many}, "duplicate", 0},
		{"l2_forward entries without end", []*p4v1.Entity{l2Table},
			lyingSwitch{answer: l2, perResponse: 1000, max: many}, "too_many", 0},
		{"a bucket entry when l2_forward was read", []*p4v1.Entity{l2Table},
			lyingSwitch{answer: func(int) *p4v1.Entity { return b.Bucket(1, 7, 1) }, perResponse: 1, max: 1}, "not_asked", 0},
		{"a table the P4Info lacks", entries.Wildcards(),
			lyingSwitch{answer: func(int) *p4v1.Entity {
				return &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: 12345}}}
			}, perResponse: 1, max: 1}, "not_asked", 0},
		{"an entry of 1 MiB", []*p4v1.Entity{l2Table},
			lyingSwitch{answer: func(i int) *p4v1.Entity {
				e := l2(i)
				e.GetTableEntry().Metadata = make([]byte, 1<<20)
				return e
			}, perResponse: 1, max: 100}, "too_large", 0},
		{"empty answers without end", entries.Wildcards(),
			lyingSwitch{answer: l2, perResponse: 0, max: many}, "too_many", 0},
		{"a full l2_forward table and its default entry", []*p4v1.Entity{l2Table},
			lyingSwitch{answer: func(i int) *p4v1.Entity {
				if i == sizes.L2Forward {
					e := l2(0)
					e.GetTableEntry().Match, e.GetTableEntry().IsDefaultAction = nil, true
					return e
				}
				if i > sizes.L2Forward {
					return nil
				}
				return l2(i)
			}, perResponse: 100, max: many}, "", sizes.L2Forward + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := dialLying(t, &tt.sw)
			var got []*p4v1.Entity
			var err error
			grew := heap.Peak(func() {
				got, err = ReadEntities(context.Background(), client, 1, nil, tt.read...)
			})
			t.Logf("peak heap %.1f MiB", float64(grew)/(1<<20))
			var refused *RefusedError
			if errors.As(err, &refused) != (tt.reason != "") || (refused != nil && refused.Reason != tt.reason) {
				t.Fatalf("got %d entities, error %v; want refusal %q", len(got), err, tt.reason)
			}
			if tt.reason == "" && err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Errorf("got %d entities, want %d", len(got), tt.want)
			}
			if grew > heapBound {
				t.Errorf("peak heap %d MiB, want under %d MiB", grew>>20, heapBound>>20)
			}
		})
	}
}

// The refusal names the switch's lie and the bound it broke.
func TestReadRefusalMessage(t *testing.T) {
	b := entries.Builder{IDs: mustIDs(t)}
	sw := &lyingSwitch{answer: func(i int) *p4v1.Entity {
		return b.L2Forward([]byte{2, 0, 0, 0, byte(i >> 8), byte(i)}, 1)
	}, perResponse: 10, max: 100_000}
	limits := NewReadLimits(p4info.MustLoad().Info)
	_, err := ReadEntities(context.Background(), dialLying(t, sw), 1, limits,
		&p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: b.IDs.L2Forward.Table}}})
	want := "the switch answered more than 4097 entities for table SymdistIngress.l2_forward.l2_forward: refusing its Read answer"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// A switch that never ends its answer is cut off at readTimeout even when
// the caller set no deadline.
func TestReadTimeout(t *testing.T) {
	old := readTimeout
	readTimeout = 200 * time.Millisecond
	t.Cleanup(func() { readTimeout = old })
	client := dialLying(t, &lyingSwitch{answer: func(int) *p4v1.Entity { time.Sleep(10 * time.Second); return nil }, perResponse: 1, max: 1})
	start := time.Now()
	_, err := ReadEntities(context.Background(), client, 1, nil, entries.Wildcards()...)
	if got := status.Code(err); got != codes.DeadlineExceeded {
		t.Errorf("got %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// A Session's refusals reach the hook given to LimitReads.
func TestSessionRefusedHook(t *testing.T) {
	b := entries.Builder{IDs: mustIDs(t)}
	sw := &lyingSwitch{answer: func(int) *p4v1.Entity { return b.Bucket(1, 7, 1) }, perResponse: 2, max: 2}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	p4v1.RegisterP4RuntimeServer(gs, sw)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s := NewReader(conn, 1)
	var reasons []string
	s.LimitReads(nil, func(err *RefusedError) { reasons = append(reasons, err.Reason) })
	if _, err := s.Read(context.Background(), entries.Wildcards()...); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("got %v, want a duplicate refused", err)
	}
	if diff := cmp.Diff([]string{"duplicate"}, reasons, protocmp.Transform()); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}
}

func mustIDs(t *testing.T) *p4info.IDs {
	t.Helper()
	ids, err := p4info.MustLoad().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	return ids
}
