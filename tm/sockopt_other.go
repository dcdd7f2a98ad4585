//go:build !linux

// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"errors"
	"syscall"
)

// sockopts: only Linux is supported for SO_REUSEADDR on self ports and
// IP_FREEBIND; elsewhere the sockets get no options (binding a self port
// still works while no earlier socket holds it).
func sockopts(reuse, noPort, freebind bool) func(network, address string, c syscall.RawConn) error {
	if !freebind {
		return nil
	}
	return func(string, string, syscall.RawConn) error {
		return errors.New("--freebind needs Linux")
	}
}
