// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Row 14 of issue 21: chain --table-file is one strict JSON value.
func TestReadTableFileStrict(t *testing.T) {
	good := `{"group":"web","buckets":["tm1","tm2"],"chains":[{"bucket":1,"previous":"tm1","left_ms":500}]}`
	for _, tc := range []struct {
		name, data, wantErr string
	}{
		{"one table", good, ""},
		{"two tables", good + good, "data after the JSON value"},
		{"trailing garbage", good + "garbage", "data after"},
		{"duplicate key", `{"group":"web","buckets":["tm1"],"buckets":["tm2"]}`, `duplicate key "buckets"`},
		{"duplicate key in a chain", `{"group":"web","buckets":["tm1"],"chains":[{"bucket":0,"bucket":1,"previous":"tm2"}]}`, `duplicate key "bucket"`},
		{"unknown field", `{"group":"web","buckets":["tm1"],"chain":[]}`, "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "table.json")
			if err := os.WriteFile(path, []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			bt, err := readTableFile(path)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("readTableFile: %v", err)
			case tc.wantErr == "" && !cmp.Equal(bt.Buckets, []string{"tm1", "tm2"}):
				t.Errorf("buckets %v, want tm1, tm2", bt.Buckets)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("readTableFile = %+v, %v; want an error containing %q", bt, err, tc.wantErr)
			}
		})
	}
}
