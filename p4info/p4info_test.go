// SPDX-License-Identifier: Apache-2.0

package p4info

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/symdist/symdist/internal/p4tools"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	"google.golang.org/protobuf/proto"
)

func TestEmbeddedResolves(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := s.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if ids.BucketTable.Table == 0 || ids.SendToTM.TMMAC == 0 || ids.PacketOut.EgressPort == 0 {
		t.Errorf("unresolved IDs: %+v", ids)
	}
	if len(BMv2JSON()) < 100 {
		t.Errorf("bmv2 JSON is %d bytes", len(BMv2JSON()))
	}
}

// A P4Info missing a name the Go code uses fails at start-up, naming it.
func TestResolveNamesWhatIsMissing(t *testing.T) {
	info := proto.Clone(MustLoad().Info).(*p4configv1.P4Info)
	for _, tb := range info.Tables {
		if tb.Preamble.Name == TableBucketTable {
			tb.Preamble.Name = "renamed"
		}
		if tb.Preamble.Name == TablePortRole {
			tb.MatchFields[0].Name = "port"
		}
	}
	s, err := NewSchema(info)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Resolve()
	if err == nil {
		t.Fatal("Resolve succeeded on a P4Info without bucket_table")
	}
	for _, want := range []string{TableBucketTable, `no match field "ingress_port"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestNewSchemaRejects(t *testing.T) {
	dup := proto.Clone(MustLoad().Info).(*p4configv1.P4Info)
	dup.Actions = append(dup.Actions, dup.Actions[0])
	zero := proto.Clone(MustLoad().Info).(*p4configv1.P4Info)
	zero.Tables[0].Preamble.Id = 0
	for name, info := range map[string]*p4configv1.P4Info{"duplicate": dup, "zero id": zero} {
		if _, err := NewSchema(info); err == nil {
			t.Errorf("%s: NewSchema succeeded", name)
		}
	}
	if _, err := Parse([]byte("tables { bogus: 1 }")); err == nil {
		t.Error("Parse accepted an unknown field")
	}
}

// Where p4c is installed, the committed P4Info and bmv2 JSON must be what
// it compiles p4src/symdist.p4 into.
func TestCompiledFilesUpToDate(t *testing.T) {
	if why := p4tools.Missing(p4tools.P4C, "p4c"); why != "" {
		t.Skip(why + ": the committed P4Info and bmv2 JSON are not checked")
	}
	if why := p4tools.P4COtherVersion(); why != "" {
		t.Skip(why)
	}
	dir := compileBMv2(t)
	for _, name := range []string{"symdist.json", "symdist.p4info.txtpb"} {
		got, _ := os.ReadFile(filepath.Join(dir, name))
		want, _ := os.ReadFile(name)
		if !bytes.Equal(got, want) {
			t.Errorf("p4info/%s is stale: run make p4", name)
		}
	}
}

// names_generated.go must be what the generator makes of the committed P4Info.
func TestNamesUpToDate(t *testing.T) {
	want, err := GenerateNames(MustLoad().Info, "symdist.p4info.txtpb")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("names_generated.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("p4info/names_generated.go is stale: run go generate ./p4info")
	}
}

// Every control, parser and deparser file includes what it uses: each
// compiles on its own (p4c's p4test front end), not only in the top
// file's include order.
func TestP4FilesStandalone(t *testing.T) {
	if why := p4tools.Missing("p4test", "p4c's front end"); why != "" {
		t.Skip(why)
	}
	files, err := filepath.Glob("../p4src/include/control/*.p4")
	if err != nil || len(files) == 0 {
		t.Fatalf("no control files: %v", err)
	}
	files = append(files, "../p4src/include/parser.p4", "../p4src/include/deparser.p4")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := exec.Command(p4tools.MustFind("p4test"), "--std", "p4-16", f).CombinedOutput()
			if err != nil {
				t.Errorf("p4test %s: %v\n%s", f, err, out)
			}
		})
	}
}
