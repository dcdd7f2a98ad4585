// SPDX-License-Identifier: Apache-2.0

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	"github.com/symdist/symdist/p4info"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

func figure3(t *testing.T, old, new string) string {
	t.Helper()
	base, err := os.ReadFile("../examples/figure3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(base), old) {
		t.Fatalf("example lacks %q", old)
	}
	return strings.Replace(string(base), old, new, 1)
}

// A group's buckets default to the top-level count, and a group may set
// its own.
func TestGroupBuckets(t *testing.T) {
	for _, tt := range []struct {
		name, old, new string
		want           int
	}{
		{"default", "default_tm: tm1", "default_tm: tm1", 4096},
		{"top level", "buckets: 4096", "buckets: 512", 512},
		{"per group", "default_tm: tm1", "default_tm: tm1\n    buckets: 1024", 1024},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("figure3.yaml", []byte(figure3(t, tt.old, tt.new)))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Group("web").Buckets; got != tt.want {
				t.Errorf("group web has %d buckets, want %d", got, tt.want)
			}
		})
	}
}

// The pipeline's capacity comes from its P4Info: a switch running a build
// whose bucket_table holds 2048 entries cannot take a group of 4096.
func TestBucketsAbovePipelineCapacity(t *testing.T) {
	info := proto.Clone(p4info.MustLoad().Info).(*p4configv1.P4Info)
	for _, tb := range info.GetTables() {
		if tb.GetPreamble().GetName() == p4info.TableBucketTable {
			tb.Size = 2048
		}
	}
	text, err := prototext.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "small.p4info.txtpb")
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := figure3(t, "  - name: client-side\n", "  - name: client-side\n    p4info: "+path+"\n    bmv2_json: "+path+"\n")
	_, err = Parse("figure3.yaml", []byte(cfg))
	if err == nil || !strings.Contains(err.Error(), "groups: the groups' buckets add up to 4096, more than the pipeline's bucket_table holds (2048)") {
		t.Errorf("error = %v, want the total over bucket_table's 2048", err)
	}
	// Half as many buckets fit.
	if _, err := Parse("figure3.yaml", []byte(strings.Replace(cfg, "buckets: 4096", "buckets: 2048", 1))); err != nil {
		t.Errorf("2048 buckets on a 2048-entry bucket_table: %v", err)
	}
}

// A group's bucket count must be a power of two the pipeline takes.
func TestBadGroupBuckets(t *testing.T) {
	for _, b := range []string{"1000", "131072", "-4"} {
		_, err := Parse("figure3.yaml", []byte(figure3(t, "default_tm: tm1", "default_tm: tm1\n    buckets: "+b)))
		if err == nil || !strings.Contains(err.Error(), "groups[0].buckets: must be a power of two up to 65536") {
			t.Errorf("buckets %s: error = %v", b, err)
		}
	}
	// The largest a group takes.
	if _, err := Parse("figure3.yaml", []byte(figure3(t, "default_tm: tm1", "default_tm: tm1\n    buckets: 65536"))); err != nil {
		t.Errorf("buckets 65536: %v", err)
	}
}
