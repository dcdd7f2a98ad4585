package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestCause(t *testing.T) {
	exit := errors.New("exit status 1")
	for _, c := range []struct {
		out  string
		want string
	}{
		{"mount --make-shared /run/netns failed: Operation not permitted\n", "Operation not permitted"},
		{"RTNETLINK answers: Operation not permitted", "Operation not permitted"},
		{"no colon here", "no colon here"},
		{"", "exit status 1"},
	} {
		if got := cause([]byte(c.out), exit); got != c.want {
			t.Errorf("cause(%q) = %q, want %q", c.out, got, c.want)
		}
	}
}

// The probe behind Missing leaves no namespace behind.
func TestMissingCleansUp(t *testing.T) {
	if why := Missing(); why != "" {
		t.Skip("lab: " + why)
	}
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	if ns := fmt.Sprintf("symdist-probe-%d", os.Getpid()); strings.Contains(string(out), ns) {
		t.Errorf("probe namespace %s left behind:\n%s", ns, out)
	}
}
