package swmodel_test

import (
	"net"
	"testing"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swmodel"
)

// A table entry's metadata is the controller's (the controller keeps its
// operator intent there): written, modified and cleared, it reads back as
// last written.
func TestTableEntryMetadataReadsBack(t *testing.T) {
	schema := p4info.MustLoad()
	p, err := swmodel.New(schema)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := schema.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	b := entries.Builder{IDs: ids}
	mac, _ := net.ParseMAC("02:00:00:00:01:02")
	entry := func(md string) *p4v1.Entity {
		e := b.L2Forward(mac, 3)
		e.GetTableEntry().Metadata = []byte(md)
		return e
	}
	for _, step := range []struct {
		op p4v1.Update_Type
		md string
	}{
		{p4v1.Update_INSERT, `{"drained":true}`},
		{p4v1.Update_MODIFY, `{"drained":false}`},
		{p4v1.Update_MODIFY, ""},
	} {
		if err := p.WriteAll([]*p4v1.Update{entries.Update(step.op, entry(step.md))}); err != nil {
			t.Fatal(err)
		}
		var got []string
		err := p.Read(&p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: ids.L2Forward.Table}}}, func(e *p4v1.Entity) error {
			got = append(got, string(e.GetTableEntry().GetMetadata()))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != step.md {
			t.Errorf("after %v with metadata %q, read back %q", step.op, step.md, got)
		}
	}
}
