//go:build !unix

// SPDX-License-Identifier: Apache-2.0

package tm

import "errors"

// nofileLimit: no RLIMIT_NOFILE here.
func nofileLimit() (uint64, error) { return 0, errors.New("no RLIMIT_NOFILE on this system") }
