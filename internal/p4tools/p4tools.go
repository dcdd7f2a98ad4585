// SPDX-License-Identifier: Apache-2.0

// Package p4tools finds the P4 tools (bmv2, p4c, PTF) that `make toolchain`
// installs, so that no test, rig or benchmark needs the user to edit PATH:
// it looks in the toolchain's prefix first, then on PATH.
package p4tools

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// DefaultPrefix is where `make toolchain` installs unless told PREFIX=.
const DefaultPrefix = "/opt/p4"

// PrefixEnv names the variable that overrides DefaultPrefix; the Makefile
// exports it as its PREFIX.
const PrefixEnv = "SYMDIST_P4_PREFIX"

// P4CVersion is the p4c release make toolchain pins (P4C_TAG in
// tools/toolchain/install.sh). The committed p4info/ files are its output;
// other releases write them differently, so byte comparisons skip there.
const P4CVersion = "1.2.4.8"

// The tools by name.
const (
	BMv2 = "simple_switch_grpc"
	P4C  = "p4c-bm2-ss"
)

// Prefix is the toolchain's install prefix.
func Prefix() string {
	if p := os.Getenv(PrefixEnv); p != "" {
		return p
	}
	return DefaultPrefix
}

// PerfPrefix is where make toolchain installs bmv2's speed build (no
// Thrift, no logging macros): install.sh's PERF_PREFIX=${PREFIX}perf.
func PerfPrefix() string { return Prefix() + "perf" }

// TofinoPrefix is where make toolchain TOFINO=1 installs p4c's Tofino back
// end: install.sh's TOFINO_PREFIX=${PREFIX}tofino.
func TofinoPrefix() string { return Prefix() + "tofino" }

// Find returns the path of the named tool: PREFIX/bin/name when that is an
// executable file, else the one on PATH.
func Find(name string) (string, error) {
	p := filepath.Join(Prefix(), "bin", name)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found in %s/bin or on PATH", name, Prefix())
}

// Missing says in one line why the named tool cannot be used here, naming
// make toolchain, or returns "" when it is installed. what says what the
// tool is for the reader ("bmv2", "p4c").
func Missing(name, what string) string {
	if _, err := Find(name); err != nil {
		return fmt.Sprintf("%s (%s) not found in %s/bin or on PATH: run make toolchain", name, what, Prefix())
	}
	return ""
}

// MustFind is Find for callers that checked Missing first; it returns the
// bare name when the tool is not found, so the error comes from exec.
func MustFind(name string) string {
	if p, err := Find(name); err == nil {
		return p
	}
	return name
}

// P4CFoundVersion returns the version the p4c-bm2-ss found reports:
// "1.2.4.8" of "Version 1.2.4.8 (SHA: 6ccc7f8 BUILD: RELEASE)".
func P4CFoundVersion() (string, error) {
	bin, err := Find(P4C)
	if err != nil {
		return "", err
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %v", bin, err)
	}
	v := parseVersion(string(out))
	if v == "" {
		return "", fmt.Errorf("%s --version: no version in %q", bin, strings.TrimSpace(string(out)))
	}
	return v, nil
}

// parseVersion returns the word after "Version" in p4c's --version
// output, without a leading "v", or "".
func parseVersion(out string) string {
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if strings.EqualFold(f[i], "version") {
			return strings.TrimPrefix(f[i+1], "v")
		}
	}
	return ""
}

// P4COtherVersion says in one line why the p4c found cannot reproduce the
// committed files byte for byte (it is not P4CVersion), or "".
func P4COtherVersion() string {
	v, err := P4CFoundVersion()
	if err != nil {
		return fmt.Sprintf("%v; the committed files are from p4c %s (make toolchain)", err, P4CVersion)
	}
	if v != P4CVersion {
		return fmt.Sprintf("p4c-bm2-ss %s found; the committed files are from p4c %s (make toolchain)", v, P4CVersion)
	}
	return ""
}
