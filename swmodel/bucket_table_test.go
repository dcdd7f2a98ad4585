// SPDX-License-Identifier: Apache-2.0

package swmodel

//lint:file-ignore SA1019 P4Runtime 1.4 deprecates Replica.egress_port and TableEntry.controller_metadata, but a switch must still serve (and a controller read) the clients that use them

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
)

// bucket_table entries are checked as every table's (the short way of
// bucketMatch included), and read back canonical.
func TestBucketEntryWrites(t *testing.T) {
	p, b := newStateFixture(t)
	ids := p.ids.BucketTable
	exact := func(id uint32, v ...byte) *p4v1.FieldMatch {
		return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Exact_{Exact: &p4v1.FieldMatch_Exact{Value: v}}}
	}
	entry := func(priority int32, ms ...*p4v1.FieldMatch) *p4v1.Update {
		return entries.Update(p4v1.Update_INSERT, &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{
			TableId: ids.Table, Match: ms, Priority: priority,
			Action: &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileMemberId{ActionProfileMemberId: 100}}}}})
	}
	for _, tt := range []struct {
		name string
		u    *p4v1.Update
		want codes.Code
	}{
		{"zero-padded values", entry(0, exact(ids.GroupID, 0, 9), exact(ids.Bucket, 0, 0, 5)), codes.OK},
		{"bucket past 16 bits", entry(0, exact(ids.GroupID, 9), exact(ids.Bucket, 1, 0, 0)), codes.InvalidArgument},
		{"group past 16 bits", entry(0, exact(ids.GroupID, 1, 0, 0), exact(ids.Bucket, 1)), codes.InvalidArgument},
		{"field twice", entry(0, exact(ids.GroupID, 9), exact(ids.GroupID, 9)), codes.InvalidArgument},
		{"bucket missing", entry(0, exact(ids.GroupID, 9)), codes.InvalidArgument},
		{"unknown field", entry(0, exact(ids.GroupID, 9), exact(77, 1)), codes.InvalidArgument},
		{"empty value", entry(0, exact(ids.GroupID, 9), exact(ids.Bucket)), codes.InvalidArgument},
		{"priority", entry(5, exact(ids.GroupID, 9), exact(ids.Bucket, 6)), codes.InvalidArgument},
		{"ternary", entry(0, exact(ids.GroupID, 9), &p4v1.FieldMatch{FieldId: ids.Bucket, FieldMatchType: &p4v1.FieldMatch_Ternary_{Ternary: &p4v1.FieldMatch_Ternary{Value: []byte{1}, Mask: []byte{1}}}}), codes.InvalidArgument},
		{"again", entry(0, exact(ids.GroupID, 9), exact(ids.Bucket, 5)), codes.AlreadyExists},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := status.Code(p.Write([]*p4v1.Update{tt.u})[0]); got != tt.want {
				t.Errorf("code %v, want %v", got, tt.want)
			}
		})
	}
	var got []*p4v1.Entity
	q := &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: ids.Table,
		Match: []*p4v1.FieldMatch{exact(ids.GroupID, 9), exact(ids.Bucket, 5)}}}}
	if err := p.Read(q, func(e *p4v1.Entity) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []*p4v1.Entity{entries.Canonicalize(b.Bucket(9, 5, 100))}
	if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
		t.Errorf("read back (-want +got):\n%s", d)
	}

	// Metadata is kept as written, replaced by a MODIFY, gone with the entry.
	withMeta := func(op p4v1.Update_Type, meta string) error {
		e := entries.Canonicalize(b.Bucket(9, 5, 101))
		e.GetTableEntry().Metadata = []byte(meta)
		return p.Write([]*p4v1.Update{entries.Update(op, e)})[0]
	}
	for _, meta := range []string{"cookie 1", "", "cookie 2"} {
		if err := withMeta(p4v1.Update_MODIFY, meta); err != nil {
			t.Fatal(err)
		}
		got = nil
		if err := p.Read(q, func(e *p4v1.Entity) error { got = append(got, e); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || string(got[0].GetTableEntry().GetMetadata()) != meta {
			t.Errorf("after a MODIFY with metadata %q: read %v", meta, got)
		}
	}
	if err := withMeta(p4v1.Update_DELETE, ""); err != nil {
		t.Fatal(err)
	}
	if err := withMeta(p4v1.Update_INSERT, ""); err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := p.Read(q, func(e *p4v1.Entity) error { got = append(got, e); return nil }); err != nil || len(got) != 1 || len(got[0].GetTableEntry().GetMetadata()) != 0 {
		t.Errorf("a deleted entry's metadata came back: %v, %v", got, err)
	}
}

// Read's filters (spec 11.1) apply to bucket_table, rebuilt from its
// lookup tree, as to every table: metadata and controller_metadata kept
// beside an entry select it, a priority selects none (the table has
// none), a match selects its one entry, and a read of every table
// includes every bucket entry.
func TestBucketTableReadFilters(t *testing.T) {
	p, b := newStateFixture(t)
	ids := p.ids.BucketTable
	marked := entries.Canonicalize(b.Bucket(9, 5, 100))
	marked.GetTableEntry().Metadata, marked.GetTableEntry().ControllerMetadata = []byte("cookie"), 7
	plain := entries.Canonicalize(b.Bucket(9, 6, 101))
	if err := p.WriteAll([]*p4v1.Update{entries.Update(p4v1.Update_INSERT, marked), entries.Update(p4v1.Update_INSERT, plain)}); err != nil {
		t.Fatal(err)
	}
	table := func(f func(*p4v1.TableEntry)) *p4v1.Entity {
		q := &p4v1.TableEntry{TableId: ids.Table}
		f(q)
		return &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: q}}
	}
	for _, tt := range []struct {
		name  string
		query *p4v1.Entity
		want  []*p4v1.Entity
	}{
		{"metadata", table(func(q *p4v1.TableEntry) { q.Metadata = []byte("cookie") }), []*p4v1.Entity{marked}},
		{"controller_metadata", table(func(q *p4v1.TableEntry) { q.ControllerMetadata = 7 }), []*p4v1.Entity{marked}},
		{"other metadata", table(func(q *p4v1.TableEntry) { q.Metadata = []byte("other") }), nil},
		{"priority", table(func(q *p4v1.TableEntry) { q.Priority = 3 }), nil},
		{"default entry", table(func(q *p4v1.TableEntry) { q.IsDefaultAction = true }), nil},
		{"match", table(func(q *p4v1.TableEntry) { q.Match = plain.GetTableEntry().GetMatch() }), []*p4v1.Entity{plain}},
		{"match and metadata", table(func(q *p4v1.TableEntry) {
			q.Match, q.Metadata = plain.GetTableEntry().GetMatch(), []byte("cookie")
		}), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []*p4v1.Entity
			if err := p.Read(tt.query, func(e *p4v1.Entity) error { got = append(got, e); return nil }); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got, protocmp.Transform()); d != "" {
				t.Errorf("read (-want +got):\n%s", d)
			}
		})
	}
	t.Run("every table", func(t *testing.T) {
		n := 0
		err := p.Read(&p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{}}}, func(e *p4v1.Entity) error {
			if e.GetTableEntry().GetTableId() == ids.Table {
				n++
			}
			return nil
		})
		if err != nil || n != p.bucketEntries || n < 2 {
			t.Errorf("read %d bucket entries (%v), want all %d", n, err, p.bucketEntries)
		}
	})
}
