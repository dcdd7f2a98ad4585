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
)

// DefaultPrefix is where `make toolchain` installs unless told PREFIX=.
const DefaultPrefix = "/opt/p4"

// PrefixEnv names the variable that overrides DefaultPrefix; the Makefile
// exports it as its PREFIX.
const PrefixEnv = "SYMDIST_P4_PREFIX"

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
