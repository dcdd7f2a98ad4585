// SPDX-License-Identifier: Apache-2.0

package lab

import "os"

// mgmtBridge makes the management bridge (mgmtNet.1/24 in the root
// namespace): the controller's admin API and health checks.
func (l *Lab) mgmtBridge() error {
	br := l.link("m")
	_ = sh("ip", "link", "del", br)
	if err := sh("ip", "link", "add", br, "type", "bridge"); err != nil {
		return err
	}
	l.undo = append(l.undo, func() { _ = sh("ip", "link", "del", br) })
	if err := sh("ip", "addr", "add", mgmtNet+".1/24", "dev", br); err != nil {
		return err
	}
	return sh("ip", "link", "set", br, "up")
}

// mgmtLeg gives namespace ns the interface mgmt0 with address addr on the
// management bridge (rootName is its root-side end).
func (l *Lab) mgmtLeg(ns, rootName, addr string) error {
	if err := l.veth(rootName, ns, "mgmt0", ""); err != nil {
		return err
	}
	if err := sh("ip", "link", "set", rootName, "master", l.link("m")); err != nil {
		return err
	}
	return inNS(ns, "ip", "addr", "add", addr+"/24", "dev", "mgmt0")
}

// pairInRoot makes a veth pair with both ends in the root namespace (the
// link between two distributors), IPv6 off, both up.
func (l *Lab) pairInRoot(a, b string) error {
	_ = sh("ip", "link", "del", a)
	if err := sh("ip", "link", "add", a, "type", "veth", "peer", "name", b); err != nil {
		return err
	}
	l.undo = append(l.undo, func() { _ = sh("ip", "link", "del", a) })
	for _, n := range []string{a, b} {
		_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+n+"/disable_ipv6", []byte("1"), 0o644)
		if err := sh("ip", "link", "set", n, "up"); err != nil {
			return err
		}
	}
	return nil
}

// loneVeth gives a switch port that leads nowhere in the lab an interface
// (name, with its peer name+"x" left unused).
func (l *Lab) loneVeth(name string) error {
	return l.pairInRoot(name, name+"x")
}
