// SPDX-License-Identifier: Apache-2.0

// Package testbed is what the tests that run switches share: veth pairs,
// a switch programmed with the fixture state, a config builder and a wait
// helper. Only tests import it; `symdist lab` runs switches through
// internal/ifswitch, as the tests do.
package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/symdist/symdist/internal/cmderr"

	"github.com/symdist/symdist/internal/ifswitch"
)

// VethPair is one switch port: SwitchSide is given to the switch, HostSide
// is where the test sends and captures.
type VethPair struct {
	Port       uint16
	SwitchSide string
	HostSide   string
}

// SwitchPorts are the switch sides of pairs, as a switch takes them.
func SwitchPorts(pairs []VethPair) []ifswitch.Port {
	ports := make([]ifswitch.Port, len(pairs))
	for i, p := range pairs {
		ports[i] = ifswitch.Port{Number: p.Port, Interface: p.SwitchSide}
	}
	return ports
}

func run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

var vethProbe struct {
	once sync.Once
	why  string
}

// CanMakeVeths reports in one line why veth pairs cannot be made here, or "".
// Root is not enough (root in an unprivileged container lacks CAP_NET_ADMIN),
// so the first call makes and deletes a throwaway pair; the answer is kept.
func CanMakeVeths() string {
	vethProbe.once.Do(func() { vethProbe.why = probeVeths() })
	return vethProbe.why
}

func probeVeths() string {
	if os.Geteuid() != 0 {
		return "needs root to create veth pairs"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "needs iproute2's ip command"
	}
	// Names unique to this process (at most 15 bytes), so that concurrent
	// test binaries do not collide.
	a, b := fmt.Sprintf("sdv%dp", os.Getpid()), fmt.Sprintf("sdv%dq", os.Getpid())
	out, err := exec.Command("ip", "link", "add", "name", a, "type", "veth", "peer", "name", b).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("needs CAP_NET_ADMIN (ip link add: %s)", cmderr.Cause(out, err))
	}
	if err := run("ip", "link", "del", a); err != nil {
		return fmt.Sprintf("cannot delete veth pairs (%v)", err)
	}
	return ""
}

// MakeVeths creates one veth pair per port, named <prefix><port>s and
// <prefix><port>h, up, with IPv6 off so the kernel sends nothing of its
// own on them. The returned function deletes them.
func MakeVeths(prefix string, ports []uint16) ([]VethPair, func(), error) {
	var pairs []VethPair
	cleanup := func() {
		for _, p := range pairs {
			_ = run("ip", "link", "del", p.SwitchSide)
		}
	}
	for _, port := range ports {
		p := VethPair{Port: port, SwitchSide: fmt.Sprintf("%s%ds", prefix, port), HostSide: fmt.Sprintf("%s%dh", prefix, port)}
		_ = run("ip", "link", "del", p.SwitchSide) // left over from a killed run
		if err := run("ip", "link", "add", p.SwitchSide, "type", "veth", "peer", "name", p.HostSide); err != nil {
			cleanup()
			return nil, nil, err
		}
		pairs = append(pairs, p)
		for _, ifname := range []string{p.SwitchSide, p.HostSide} {
			_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+ifname+"/disable_ipv6", []byte("1"), 0o644)
			// Jumbo frames pass.
			if err := run("ip", "link", "set", ifname, "mtu", "9500", "up"); err != nil {
				cleanup()
				return nil, nil, err
			}
		}
	}
	return pairs, cleanup, nil
}
