// SPDX-License-Identifier: Apache-2.0

// Package ifswitch runs a switch on Linux interfaces for `symdist lab` and
// the tests that move real packets: bmv2's simple_switch_grpc as a child
// process, or the software switch in this process (AF_PACKET), each
// serving P4Runtime on a free loopback port.
package ifswitch

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/symdist/symdist/internal/p4tools"
	"github.com/symdist/symdist/swswitch"
)

// Port is one switch port and the interface it sends and receives on.
type Port struct {
	Number    uint16
	Interface string
}

// Switch is a running switch.
type Switch struct {
	Name     string
	Addr     string // P4Runtime
	DeviceID uint64
	// DeviceConfig is the pipeline to push: p4info.BMv2JSON() when nil
	// (the software switch takes that and ignores it).
	DeviceConfig []byte
	stop         func()
}

// Stop ends the switch.
func (s *Switch) Stop() { s.stop() }

// freeAddr returns a loopback address with a free TCP port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// BMv2Missing says in one line why bmv2 cannot run here, or "".
func BMv2Missing() string { return p4tools.Missing(p4tools.BMv2, "bmv2") }

// StartBMv2 starts simple_switch_grpc (device 1, CPU port 255) on ports,
// with no program; its log goes to logDir.
func StartBMv2(ports []Port, logDir string) (*Switch, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	bin := p4tools.MustFind(p4tools.BMv2)
	args, err := bmv2Args(bin, addr, ports)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	logf, err := os.Create(filepath.Join(logDir, "simple_switch_grpc.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &Switch{Name: "bmv2", Addr: addr, DeviceID: 1, stop: func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	}}
	// Wait for its gRPC port.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("simple_switch_grpc did not listen on %s (log: %s)", addr, logf.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// bmv2Args are bin's arguments to serve P4Runtime on addr on ports.
func bmv2Args(bin, addr string, ports []Port) ([]string, error) {
	args := []string{"--device-id", "1", "--no-p4", "--log-level", "error"}
	// The debug build serves Thrift (default port 9090, which may be taken):
	// move it to a free port. The speed build (make toolchain's PREFIXperf)
	// has no Thrift and refuses the flag.
	if hasThrift(bin) {
		thrift, err := freeAddr()
		if err != nil {
			return nil, err
		}
		_, port, _ := net.SplitHostPort(thrift)
		args = append(args, "--thrift-port", port)
	}
	for _, p := range ports {
		args = append(args, "-i", strconv.Itoa(int(p.Number))+"@"+p.Interface)
	}
	return append(args, "--", "--grpc-server-addr", addr, "--cpu-port", "255"), nil
}

var thrift struct {
	sync.Mutex
	has map[string]bool // by binary
}

// hasThrift says whether bin's --help mentions --thrift-port; asked once
// per binary.
func hasThrift(bin string) bool {
	thrift.Lock()
	defer thrift.Unlock()
	has, ok := thrift.has[bin]
	if !ok {
		help, _ := exec.Command(bin, "--help").CombinedOutput() // exits non-zero on some builds
		has = strings.Contains(string(help), "thrift-port")
		if thrift.has == nil {
			thrift.has = map[string]bool{}
		}
		thrift.has[bin] = has
	}
	return has
}

// StartSoft runs the software switch (device 1) in this process on ports
// (AF_PACKET, needs CAP_NET_RAW), serving P4Runtime on loopback.
func StartSoft(ports []Port) (*Switch, error) {
	open := map[uint16]swswitch.Port{}
	for _, p := range ports {
		port, err := swswitch.OpenInterface(p.Interface)
		if err != nil {
			for _, q := range open {
				q.Close()
			}
			return nil, err
		}
		open[p.Number] = port
	}
	sw, err := swswitch.Listen(swswitch.Config{DeviceID: 1, Ports: open})
	if err != nil {
		return nil, err
	}
	return &Switch{Name: "software switch", Addr: sw.Addr(), DeviceID: 1, stop: sw.Stop}, nil
}
