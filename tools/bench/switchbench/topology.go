// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// The ports: 1 is the edge port the sender feeds, 2-4 are TM ports where
// delivered frames are counted.
const (
	prefix   = "sbench"
	edgePort = 1
)

var tmPorts = []int{2, 3, 4}

func switchSide(port int) string { return fmt.Sprintf("%s%ds", prefix, port) }
func hostSide(port int) string   { return fmt.Sprintf("%s%dh", prefix, port) }

type topology struct{ ports []int }

func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// makeTopology creates the four veth pairs, up, IPv6 off (so the kernel
// sends nothing of its own), TX checksum offload off on the switch sides
// (an AF_PACKET switch must not forward unfinished checksums).
func makeTopology() (*topology, error) {
	t := &topology{ports: append([]int{edgePort}, tmPorts...)}
	t.remove() // left over from a killed run
	for _, p := range t.ports {
		if err := sh("ip", "link", "add", switchSide(p), "type", "veth", "peer", "name", hostSide(p)); err != nil {
			t.remove()
			return nil, err
		}
		for _, ifname := range []string{switchSide(p), hostSide(p)} {
			_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+ifname+"/disable_ipv6", []byte("1"), 0o644)
			if err := sh("ip", "link", "set", ifname, "up"); err != nil {
				t.remove()
				return nil, err
			}
		}
		_ = sh("ethtool", "-K", switchSide(p), "tx", "off")
	}
	return t, nil
}

func (t *topology) remove() {
	_ = sh("ip", "link", "del", prefix+"br")
	for _, p := range t.ports {
		_ = sh("ip", "link", "del", switchSide(p))
	}
}

// counter reads one interface statistic.
func counter(ifname, stat string) (uint64, error) {
	b, err := os.ReadFile("/sys/class/net/" + ifname + "/statistics/" + stat)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// snapshot is the sender's transmitted frames and the frames delivered on
// the TM ports.
type snapshot struct{ sent, delivered uint64 }

func (t *topology) snapshot() (snapshot, error) {
	var s snapshot
	var err error
	if s.sent, err = counter(hostSide(edgePort), "tx_packets"); err != nil {
		return s, err
	}
	for _, p := range tmPorts {
		n, err := counter(hostSide(p), "rx_packets")
		if err != nil {
			return s, err
		}
		s.delivered += n
	}
	return s, nil
}

func missing(o options) string {
	if os.Geteuid() != 0 {
		return "needs root (veth pairs, AF_PACKET)"
	}
	for _, tool := range []string{"ip", "tcpreplay"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "needs " + tool + " (Debian: iproute2, tcpreplay)"
		}
	}
	if _, err := os.Stat(o.symdist); err != nil && (contains(o.switches, "software") || contains(o.switches, "software-socket")) {
		return fmt.Sprintf("no symdist binary at %s (make build)", o.symdist)
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var errSkip = errors.New("not installed")
