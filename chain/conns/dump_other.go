// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package conns

import "errors"

// Dump is Linux only.
func Dump(max int, fn func(Entry)) (n int, truncated bool, err error) {
	return 0, false, errors.New("conntrack: Linux only")
}
