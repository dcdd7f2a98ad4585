package cmderr

import (
	"errors"
	"testing"
)

func TestCause(t *testing.T) {
	err := errors.New("exit status 2")
	for _, tc := range []struct{ out, want string }{
		{"RTNETLINK answers: Operation not permitted\n", "Operation not permitted"},
		{"mount --make-shared /run/netns failed: Operation not permitted", "Operation not permitted"},
		{"first line\nCannot create namespace file \"/run/netns/x\": Permission denied\n", "Permission denied"},
		{"no colon here", "no colon here"},
		{"first line\nCannot find device \"x\"", `Cannot find device "x"`},
		{"", "exit status 2"},
		{"  \n", "exit status 2"},
	} {
		if got := Cause([]byte(tc.out), err); got != tc.want {
			t.Errorf("Cause(%q) = %q, want %q", tc.out, got, tc.want)
		}
	}
}
