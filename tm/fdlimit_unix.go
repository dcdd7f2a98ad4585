//go:build unix

// SPDX-License-Identifier: Apache-2.0

package tm

import "syscall"

// nofileLimit is RLIMIT_NOFILE's soft limit (Go raises it to the hard
// limit at start).
func nofileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return uint64(rl.Cur), nil
}
