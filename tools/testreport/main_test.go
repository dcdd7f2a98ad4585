// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTally(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "run.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	tl := newTally()
	var echo, saved bytes.Buffer
	if err := tl.run(bytes.NewReader(in), &echo, true, &saved); err != nil {
		t.Fatal(err)
	}
	if tl.passed != 2 || tl.failed != 1 || tl.skipped != 3 {
		t.Errorf("passed %d failed %d skipped %d, want 2 1 3", tl.passed, tl.failed, tl.skipped)
	}
	if diff := cmp.Diff([]string{"github.com/symdist/symdist/broken"}, tl.badPackages); diff != "" {
		t.Errorf("packages failed outside a test (-want +got):\n%s", diff)
	}
	want := map[string][]string{
		"simple_switch_grpc (bmv2) not found in /opt/p4/bin or on PATH: run make toolchain": {"TestLab/bmv2", "TestConformance/bmv2"},
		"(no reason given)": {"TestQuiet"},
	}
	if diff := cmp.Diff(want, tl.skips); diff != "" {
		t.Errorf("skips by reason (-want +got):\n%s", diff)
	}
	for _, s := range []string{"boom: want 1, got 2", "undefined: Foo", "ok  \tgithub.com/symdist/symdist/lab", "skip lab TestLab/bmv2: simple_switch_grpc"} {
		if !strings.Contains(echo.String(), s) {
			t.Errorf("the stream lacks %q:\n%s", s, echo.String())
		}
	}
	// The saved events summarize to the same.
	again := newTally()
	if err := again.run(&saved, &bytes.Buffer{}, false, nil); err != nil {
		t.Fatal(err)
	}
	var sum bytes.Buffer
	again.summary(&sum)
	last := strings.TrimSpace(sum.String())
	last = last[strings.LastIndex(last, "\n")+1:]
	if last != "tests: 2 passed, 2 failed, 3 skipped" {
		t.Errorf("closing line %q\n%s", last, sum.String())
	}
	if again.ok() {
		t.Error("a run with failures summarized as ok")
	}
}
