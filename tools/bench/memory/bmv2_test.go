// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/symdist/symdist/internal/p4tools"
)

// Without -bmv2, the bmv2 of make toolchain's prefix is taken before PATH's.
func TestFindBMv2(t *testing.T) {
	prefix := t.TempDir()
	bin := filepath.Join(prefix, "bin", p4tools.BMv2)
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(p4tools.PrefixEnv, prefix)
	t.Setenv("PATH", t.TempDir())
	for _, c := range []struct{ flagged, want string }{
		{"", bin},
		{"/elsewhere/simple_switch_grpc", "/elsewhere/simple_switch_grpc"},
	} {
		if got, err := findBMv2(c.flagged); err != nil || got != c.want {
			t.Errorf("findBMv2(%q) = %q, %v; want %q", c.flagged, got, err, c.want)
		}
	}
	t.Setenv(p4tools.PrefixEnv, t.TempDir())
	if got, err := findBMv2(""); err == nil {
		t.Errorf("findBMv2 with no bmv2 anywhere = %q, want an error", got)
	}
}
