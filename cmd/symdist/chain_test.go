// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/internal/limitlog"
)

// The chaining agent counts every refused table and logs one line a
// minute for them; other watch failures are logged as they come.
func TestChainWatchErrors(t *testing.T) {
	var logs bytes.Buffer
	refused := 0
	onErr := watchErrors(slog.New(slog.NewTextHandler(&logs, nil)), func() { refused++ }, limitlog.New(time.Minute))
	for v := range 5 {
		onErr(fmt.Errorf("watch: table version %d refused: %w: 131072 buckets", v, adminapi.ErrBadTable))
	}
	onErr(errors.New("watch: connection refused"))
	onErr(errors.New("watch: connection refused"))
	got := map[string]int{
		"refused lines": strings.Count(logs.String(), "chaining: bucket table refused"),
		"watch lines":   strings.Count(logs.String(), "chaining: bucket table watch"),
		"counted":       refused,
	}
	want := map[string]int{"refused lines": 1, "watch lines": 2, "counted": 5}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

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
			bt, err := adminapi.ReadTableFile(path)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("ReadTableFile: %v", err)
			case tc.wantErr == "" && !cmp.Equal(bt.Buckets, []string{"tm1", "tm2"}):
				t.Errorf("buckets %v, want tm1, tm2", bt.Buckets)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("ReadTableFile = %+v, %v; want an error containing %q", bt, err, tc.wantErr)
			}
		})
	}
}

// --snat and --vip: addresses and prefixes, IPv4-mapped ones unmapped, an
// SNAT address once.
func TestChainConnsConfig(t *testing.T) {
	cfg, err := connsConfig([]string{"10.3.0.1", "::ffff:10.3.0.2", "2001:db8::1"}, []string{"10.3.0.10", "10.4.0.0/24", "10.5.0.7/24", "::ffff:10.6.0.0/120", "2001:db8::10"})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(cfg.SNAT, cfg.VIPs)
	if want := "[10.3.0.1 10.3.0.2 2001:db8::1] [10.3.0.10/32 10.4.0.0/24 10.5.0.0/24 10.6.0.0/24 2001:db8::10/128]"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	for _, bad := range [][2][]string{
		{{"10.3.0"}, nil},
		{{"fe80::1%eth0"}, nil},
		{{"10.3.0.1", "::ffff:10.3.0.1"}, nil},
		{nil, {"10.3.0.0/33"}},
		{nil, {"web"}},
		{nil, {""}},
	} {
		if _, err := connsConfig(bad[0], bad[1]); err == nil {
			t.Errorf("--snat %v --vip %v: no error", bad[0], bad[1])
		}
	}
}
