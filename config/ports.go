// SPDX-License-Identifier: Apache-2.0

package config

import (
	"os"

	"github.com/symdist/symdist/devconfig"
	"github.com/symdist/symdist/p4info"
)

// The numbers a switch's ports are given in (Switch.PortNumbers;
// docs/hardware.md, "Port numbers on Tofino").
const (
	// PortsDevice: the device's own port numbers, 9 bits (bmv2's ports,
	// Tofino's device ports), which the switch's P4Runtime server writes
	// as they are: bmv2, bf_switchd, and Stratum without
	// --experimental_enable_p4runtime_translation or with a P4Info whose
	// port type is not translated (the built-in one).
	PortsDevice = "device"
	// PortsSingleton: the singleton port ids of Stratum's chassis config,
	// which Stratum translates into device ports when it runs with
	// --experimental_enable_p4runtime_translation and the P4Info's port
	// type carries the translation (the Tofino build's).
	PortsSingleton = "singleton"
)

// maxDevicePort is the largest device port a switch port may be: 9 bits,
// less 511, v1model's drop port.
const maxDevicePort = 510

// portFormat is how the switch's P4Info types its ports: the built-in
// P4Info's unless the switch names a p4info file.
func (s *Switch) portFormat() (ports p4info.Ports, err error) {
	if s.P4Info == "" {
		return p4info.BuiltinPorts, nil
	}
	text, err := os.ReadFile(s.P4Info)
	if err != nil {
		return p4info.Ports{}, err
	}
	schema, err := p4info.Parse(text)
	if err != nil {
		return p4info.Ports{}, err
	}
	return schema.ResolvePorts()
}

// checkPorts checks port_numbers against the target and the P4Info, and
// each port's number against what port_numbers allows.
func (v *validator) checkPorts(s *Switch, p func(f ...any) []any) {
	t, _ := devconfig.ParseTarget(s.Target) // an unknown one is checkTarget's
	ports, perr := s.portFormat()
	if perr != nil {
		v.fail(p("p4info"), "%v", perr)
	}
	maxPort, what := uint16(maxDevicePort), "device port"
	switch s.PortNumbers {
	case "", PortsDevice:
		if perr == nil && ports.Translated() && t != devconfig.Stratum && t != devconfig.Preloaded {
			v.fail(p("p4info"), "its port type is translated (%v), which only Stratum does: the P4Runtime server of %s (p4lang/PI's DeviceMgr) has no P4Runtime translation and would take the ports as %d-bit device values; give the built-in P4Info (no p4info) (docs/hardware.md)", ports, t, ports.Bits)
		}
	case PortsSingleton:
		maxPort, what = 65535, "singleton port id"
		if t != devconfig.Stratum && t != devconfig.Preloaded {
			v.fail(p("port_numbers"), "singleton port ids are Stratum's (its chassis config); target %s takes device ports: port_numbers: device", t)
		} else if perr == nil && !ports.Translated() {
			v.fail(p("port_numbers"), "Stratum translates singleton port ids into device ports only in fields whose P4Info type carries @p4runtime_translation(%q), and this switch's P4Info (%s) has none: give the Tofino build's (p4info: out/tofino/tofino/symdist.p4info.txtpb), or port_numbers: device with device ports (docs/hardware.md)", p4info.PortURI, cmpOr(s.P4Info, "the built-in one"))
		}
	default:
		v.fail(p("port_numbers"), "%q: want %s or %s", s.PortNumbers, PortsDevice, PortsSingleton)
		return
	}
	for j, port := range s.Ports {
		switch {
		case s.PortNumbers == PortsSingleton && port.Port == 0:
			v.fail(p("ports", j, "port"), "singleton port id 0 is Stratum's unspecified port (kSdnUnspecifiedPortId): ids start at 1")
		case port.Port > maxPort:
			v.fail(p("ports", j, "port"), "port %d out of range 0-%d (a %s)", port.Port, maxPort, what)
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
