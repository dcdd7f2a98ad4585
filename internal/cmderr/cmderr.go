// SPDX-License-Identifier: Apache-2.0

// Package cmderr says in a few words why a command failed.
package cmderr

import "strings"

// Cause is the last words of a failed command's output, e.g. "Operation
// not permitted" of "RTNETLINK answers: Operation not permitted", else
// err's text.
func Cause(out []byte, err error) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" {
		return err.Error()
	}
	if i := strings.LastIndex(last, ": "); i >= 0 {
		return last[i+2:]
	}
	return last
}
