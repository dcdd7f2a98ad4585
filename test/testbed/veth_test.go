// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// The probe behind CanMakeVeths leaves no interface behind.
func TestCanMakeVethsCleansUp(t *testing.T) {
	if why := CanMakeVeths(); why != "" {
		t.Skip(why)
	}
	name := fmt.Sprintf("sdv%dp", os.Getpid())
	if out, err := exec.Command("ip", "link", "show", name).CombinedOutput(); err == nil {
		t.Errorf("probe interface %s left behind:\n%s", name, out)
	}
}
