// SPDX-License-Identifier: Apache-2.0

package tm

import "net"

// Addrs are the listeners' addresses (useful with port 0).
func (s *Server) Addrs() []net.Addr {
	var out []net.Addr
	for _, ln := range s.listeners {
		out = append(out, ln.Addr())
	}
	return out
}

// HTTPAddr is the HTTP endpoint's address, or nil.
func (s *Server) HTTPAddr() net.Addr {
	if s.httpLn == nil {
		return nil
	}
	return s.httpLn.Addr()
}
