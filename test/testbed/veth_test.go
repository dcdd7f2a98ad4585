// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

func TestCause(t *testing.T) {
	exit := errors.New("exit status 2")
	for _, c := range []struct {
		out  string
		want string
	}{
		{"RTNETLINK answers: Operation not permitted\n", "Operation not permitted"},
		{"mount --make-shared /run/netns failed: Operation not permitted", "Operation not permitted"},
		{"first line\nCannot create namespace file \"/run/netns/x\": Permission denied\n", "Permission denied"},
		{"no colon here", "no colon here"},
		{"", "exit status 2"},
		{"  \n", "exit status 2"},
	} {
		if got := cause([]byte(c.out), exit); got != c.want {
			t.Errorf("cause(%q) = %q, want %q", c.out, got, c.want)
		}
	}
}

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
