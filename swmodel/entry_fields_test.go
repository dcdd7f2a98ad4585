// SPDX-License-Identifier: Apache-2.0

package swmodel_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swmodel"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
)

// Fields of a table entry besides match and action (spec 9.1): metadata
// is the controller's, kept and read back as written, also through a
// MODIFY; an idle timeout on a table without idle timeouts is refused, not
// dropped (found by the community client's interop test).
func TestEntryMetadataAndIdleTimeout(t *testing.T) {
	schema := p4info.MustLoad()
	ids, err := schema.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	p, err := swmodel.New(schema)
	if err != nil {
		t.Fatal(err)
	}
	b := entries.Builder{IDs: ids}
	tm := entries.TM{ID: 1, Port: 2, MAC: []byte{2, 0, 0, 0, 1, 1}}
	entry := func(meta string, idle int64) *p4v1.Entity {
		e := b.TMAddress(netip.MustParseAddr("10.0.1.1"), tm)
		entries.Canonicalize(e)
		e.GetTableEntry().Metadata = []byte(meta)
		e.GetTableEntry().IdleTimeoutNs = idle
		return e
	}
	readBack := func() *p4v1.TableEntry {
		var got []*p4v1.TableEntry
		err := p.Read(&p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: ids.TMAddressV4.Table}}},
			func(e *p4v1.Entity) error { got = append(got, e.GetTableEntry()); return nil })
		if err != nil || len(got) != 1 {
			t.Fatalf("read %d entries, %v", len(got), err)
		}
		return got[0]
	}
	tests := []struct {
		name     string
		op       p4v1.Update_Type
		e        *p4v1.Entity
		wantCode codes.Code
		wantMeta string
	}{
		{"insert with metadata", p4v1.Update_INSERT, entry("cookie 1", 0), codes.OK, "cookie 1"},
		{"modify the metadata", p4v1.Update_MODIFY, entry("cookie 2", 0), codes.OK, "cookie 2"},
		{"modify with an idle timeout", p4v1.Update_MODIFY, entry("cookie 3", 1e9), codes.InvalidArgument, "cookie 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := p.Write([]*p4v1.Update{{Type: tt.op, Entity: tt.e}})
			if got := status.Code(errs[0]); got != tt.wantCode {
				t.Fatalf("write: %v, want %v", errs[0], tt.wantCode)
			}
			want := entry(tt.wantMeta, 0).GetTableEntry()
			if diff := cmp.Diff(want, readBack(), protocmp.Transform()); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
		})
	}
}
