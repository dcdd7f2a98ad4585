// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
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
