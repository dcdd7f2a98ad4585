// SPDX-License-Identifier: Apache-2.0

package vectors

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/symdist/symdist/p4info"
)

var update = flag.Bool("update", false, "rewrite test/vectors/ from the cases and the fixture")

// Dir is where the vector files live, relative to this package.
const Dir = "../test/vectors"

// The committed vector files must be what the cases and the fixture give:
// `go test ./vectors -update` rewrites them.
func TestFilesUpToDate(t *testing.T) {
	ids, err := p4info.MustLoad().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	var stf, state bytes.Buffer
	if err := WriteSTF(&stf, Vectors()); err != nil {
		t.Fatal(err)
	}
	if err := WriteState(&state, State(ids)); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"symdist.stf": stf.Bytes(), "state.txtpb": state.Bytes()} {
		path := filepath.Join(Dir, name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go test ./vectors -update", path)
		}
	}
}

func TestSTFRoundTrip(t *testing.T) {
	vs := Vectors()
	var buf bytes.Buffer
	if err := WriteSTF(&buf, vs); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSTF(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(vs, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestReadSTFErrors(t *testing.T) {
	tests := []struct{ name, text string }{
		{"bad port", "packet x 00\n"},
		{"port too big", "packet 512 00\n"},
		{"bad hex", "packet 1 0g\n"},
		{"expect first", "expect 1 00\n"},
		{"trace first", "trace bridged\n"},
		{"unknown directive", "packet 1 00\nwait\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadSTF(bytes.NewBufferString(tt.text)); err == nil {
				t.Errorf("ReadSTF(%q) succeeded, want an error", tt.text)
			}
		})
	}
}

// Every case name is unique, so a failure names one packet.
func TestCaseNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Cases() {
		if seen[c.Name] {
			t.Errorf("duplicate case %q", c.Name)
		}
		seen[c.Name] = true
	}
}
