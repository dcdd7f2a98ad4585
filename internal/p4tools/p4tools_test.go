// SPDX-License-Identifier: Apache-2.0

package p4tools

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for _, c := range []struct{ out, want string }{
		{"p4c-bm2-ss\nVersion 1.2.4.8 (SHA: 6ccc7f8b7 BUILD: RELEASE)\n", "1.2.4.8"},
		{"p4c-bm2-ss\nVersion 1.2.2 (SHA: a9aa5ff BUILD: RELEASE)\n", "1.2.2"},
		{"p4c-bm2-ss\nVersion 1.2.4.17 (SHA: 1a2b3c4 BUILD: Release)", "1.2.4.17"},
		{"p4c-bm2-ss\nversion v1.2.5.0", "1.2.5.0"},
		{"p4c-bm2-ss\n", ""},
		{"Version", ""},
		{"", ""},
	} {
		if got := parseVersion(c.out); got != c.want {
			t.Errorf("parseVersion(%q) = %q, want %q", c.out, got, c.want)
		}
	}
}

// P4COtherVersion on a p4c-bm2-ss in the prefix that reports a version.
func TestP4COtherVersion(t *testing.T) {
	for _, c := range []struct {
		name, script, want string
	}{
		{"pinned", "echo p4c-bm2-ss; echo 'Version " + P4CVersion + " (SHA: 6ccc7f8 BUILD: RELEASE)'", ""},
		{"newer", "echo p4c-bm2-ss; echo 'Version 1.2.5.1 (SHA: 0000000 BUILD: RELEASE)'",
			"p4c-bm2-ss 1.2.5.1 found; the committed files are from p4c " + P4CVersion + " (make toolchain)"},
		{"no version", "echo p4c-bm2-ss", "no version in"},
		{"fails", "exit 3", "exit status 3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			prefix := t.TempDir()
			if err := os.Mkdir(filepath.Join(prefix, "bin"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(prefix, "bin", P4C), []byte("#!/bin/sh\n"+c.script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv(PrefixEnv, prefix)
			got := P4COtherVersion()
			if c.want == "" && got != "" || !strings.Contains(got, c.want) {
				t.Errorf("P4COtherVersion() = %q, want %q", got, c.want)
			}
		})
	}
}

// P4CVersion is the version make toolchain installs.
func TestP4CVersionIsTheToolchainPin(t *testing.T) {
	b, err := os.ReadFile("../../tools/toolchain/install.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^P4C_TAG=v?(\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no P4C_TAG= line in tools/toolchain/install.sh")
	}
	if string(m[1]) != P4CVersion {
		t.Errorf("install.sh pins p4c %s, p4tools.P4CVersion is %s", m[1], P4CVersion)
	}
}

// The prefixes of the speed build and the Tofino back end follow PREFIX as
// install.sh's do.
func TestPrefixes(t *testing.T) {
	b, err := os.ReadFile("../../tools/toolchain/install.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"PERF_PREFIX=${PERF_PREFIX:-${PREFIX}perf}", "TOFINO_PREFIX=${TOFINO_PREFIX:-${PREFIX}tofino}"} {
		if !strings.Contains(string(b), "\n"+line+"\n") {
			t.Errorf("tools/toolchain/install.sh has no line %s: update PerfPrefix/TofinoPrefix", line)
		}
	}
	for _, c := range []struct{ env, prefix, perf, tofino string }{
		{"", "/opt/p4", "/opt/p4perf", "/opt/p4tofino"},
		{"/usr/local/p4", "/usr/local/p4", "/usr/local/p4perf", "/usr/local/p4tofino"},
	} {
		t.Setenv(PrefixEnv, c.env)
		if got := [3]string{Prefix(), PerfPrefix(), TofinoPrefix()}; got != [3]string{c.prefix, c.perf, c.tofino} {
			t.Errorf("%s=%q: prefixes %q, want %q", PrefixEnv, c.env, got, [3]string{c.prefix, c.perf, c.tofino})
		}
	}
}
