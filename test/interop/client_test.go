//go:build !interop_client

// SPDX-License-Identifier: Apache-2.0

package interop_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const clientModule = "github.com/antoninbas/p4runtime-go-client"

// pkg is this package, relative to the module root, where the go commands run.
const pkg = "./test/interop"

// The library's newest version does not compile with p4runtime v1.4 (the
// version this project and the spec use): pkg/client/pre.go still sets
// Replica.EgressPort, which v1.4.0 moved into the oneof port_kind. This is
// the only change the test makes to it, in a copy outside the repository,
// so what runs is the library's own API. The copy's go.mod requires the
// versions this module uses.
const (
	replicaBefore = "EgressPort: port,"
	replicaAfter  = "PortKind: &p4_v1.Replica_EgressPort{EgressPort: port},"
)

func goCmd(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestCommunityClient runs interop_test.go (build tag interop_client)
// against a copy of the library with the one-line fix above, through an
// alternate go.mod (-modfile) that replaces the library by that copy.
func TestCommunityClient(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build the interop test with")
	}
	root := filepath.Dir(goCmd(t, ".", nil, "env", "GOMOD"))
	// Nothing built without the interop_client tag imports the library, so
	// a fresh machine may not have fetched it yet.
	goCmd(t, root, nil, "mod", "download", clientModule)
	src := goCmd(t, root, nil, "list", "-m", "-f", "{{.Dir}}", clientModule)
	if src == "" {
		t.Fatalf("%s is not in the module cache after go mod download", clientModule)
	}
	tmp := t.TempDir()
	lib := filepath.Join(tmp, "p4runtime-go-client")
	if err := os.CopyFS(lib, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	pre := filepath.Join(lib, "pkg", "client", "pre.go")
	code, err := os.ReadFile(pre)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(code, []byte(replicaBefore)); n != 2 {
		t.Fatalf("%s: %d times %q, want 2: the library changed, update the fix", pre, n, replicaBefore)
	}
	code = bytes.ReplaceAll(code, []byte(replicaBefore), []byte(replicaAfter))
	if err := os.WriteFile(pre, code, 0o644); err != nil {
		t.Fatal(err)
	}
	versions := goCmd(t, root, nil, "list", "-m", "-f", "\t{{.Path}} {{.Version}}",
		"github.com/p4lang/p4runtime", "github.com/sirupsen/logrus", "google.golang.org/genproto/googleapis/rpc",
		"google.golang.org/grpc", "google.golang.org/protobuf")
	mod := fmt.Sprintf("module %s\n\ngo 1.20\n\nrequire (\n\t%s\n)\n", clientModule, versions)
	if err := os.WriteFile(filepath.Join(lib, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(filepath.Join(lib, "go.sum"))

	// The alternate go.mod and its go.sum: this module's, plus the replace.
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "go.mod" {
			b = fmt.Appendf(b, "\nreplace %s => %s\n", clientModule, lib)
		}
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The library's own imports (logrus and the rest) are not needed by any
	// build without the tag either: fetch them now, checked against go.sum,
	// so the test below builds from the module cache alone (a cold cache on
	// a fresh machine has none of them).
	modfile := filepath.Join(tmp, "go.mod")
	readonly := "GOFLAGS=" + strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=readonly")
	goCmd(t, root, []string{readonly}, "list", "-modfile", modfile, "-tags", "interop_client", "-test", "-deps", pkg)
	offline := []string{readonly, "GOPROXY=off"}
	// make lint's go vet ./... cannot see the files behind the tag (they do
	// not compile without the patched copy): vet them here.
	goCmd(t, root, offline, "vet", "-modfile", modfile, "-tags", "interop_client", pkg)
	args := []string{"test", "-modfile", modfile, "-tags", "interop_client", "-count=1", "-v", pkg}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), offline...)
	out, err := cmd.CombinedOutput()
	t.Logf("go %s:\n%s", strings.Join(args, " "), out)
	if err != nil {
		t.Fatalf("the interop test failed: %v", err)
	}
}
