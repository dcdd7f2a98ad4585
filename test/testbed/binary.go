// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildSymdist builds the symdist binary from cmdDir (the path of
// cmd/symdist relative to the test's package) into a new temporary
// directory, for tests that run it in network namespaces. remove deletes
// it.
func BuildSymdist(cmdDir string) (path string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "symdist-bin-")
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, "symdist")
	if out, err := exec.Command("go", "build", "-buildvcs=false", "-o", path, cmdDir).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("building symdist: %v\n%s", err, out)
	}
	return path, func() { os.RemoveAll(dir) }, nil
}
