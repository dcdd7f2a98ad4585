// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"syscall"
)

// Socket options syscall does not name (linux/in.h, linux/in6.h).
const (
	ipFreebind          = 15 // IP_FREEBIND
	ipv6Freebind        = 78 // IPV6_FREEBIND
	ipBindAddressNoPort = 24 // IP_BIND_ADDRESS_NO_PORT
)

// sockopts returns a net.Dialer / net.ListenConfig Control function that
// runs before bind(2): SO_REUSEADDR when reuse (a self port may still have
// a TIME_WAIT socket of an earlier connection to another server; the
// kernel refuses only an identical 4-tuple, which connect reports),
// IP_BIND_ADDRESS_NO_PORT when noPort (bind SNAT:0 then lets connect pick a
// port by the whole 4-tuple), IP_FREEBIND when freebind.
func sockopts(reuse, noPort, freebind bool) func(network, address string, c syscall.RawConn) error {
	if !reuse && !noPort && !freebind {
		return nil
	}
	return func(network, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			s := int(fd)
			v6 := network == "tcp6" || network == "udp6"
			if reuse {
				if serr = syscall.SetsockoptInt(s, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); serr != nil {
					return
				}
			}
			if freebind {
				if v6 {
					serr = syscall.SetsockoptInt(s, syscall.SOL_IPV6, ipv6Freebind, 1)
				} else {
					serr = syscall.SetsockoptInt(s, syscall.SOL_IP, ipFreebind, 1)
				}
				if serr != nil {
					return
				}
			}
			if noPort {
				// Best effort: kernels before 4.2 lack it, and binding
				// SNAT:0 works without it.
				_ = syscall.SetsockoptInt(s, syscall.SOL_IP, ipBindAddressNoPort, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}
