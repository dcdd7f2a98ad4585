// SPDX-License-Identifier: Apache-2.0

// Package devconfig builds the p4_device_config bytes of a P4Runtime
// SetForwardingPipelineConfig for each kind of switch symdist programs:
// bmv2 and the software switch take the bmv2 JSON; a Tofino switch under
// Stratum (stratum_bfrt) takes a serialized BfPipelineConfig; a Tofino
// switch under the SDE's own bf_switchd --p4rt-server (p4lang/PI's
// DeviceMgr) takes a p4.tmp.P4DeviceConfig wrapping PI's packed blob. The
// layouts are written from stratum hal/lib/barefoot/bf.proto, PI's
// proto/p4/tmp/p4config.proto and bf-drivers' PI back end; docs/hardware.md
// has them.
package devconfig

import (
	"fmt"
	"strings"
)

// Target is the kind of switch a config names.
type Target string

// The targets.
const (
	// BMv2 is simple_switch_grpc; the device config is the bmv2 JSON.
	BMv2 Target = "bmv2"
	// Software is symdist's own switch; it takes the bmv2 JSON too.
	Software Target = "software"
	// Stratum is stratum_bfrt on Tofino: a BfPipelineConfig.
	Stratum Target = "stratum"
	// BfSwitchd is bf_switchd --p4rt-server on Tofino: a P4DeviceConfig.
	BfSwitchd Target = "bf_switchd"
	// Preloaded is a switch that already runs the pipeline: the controller
	// pushes nothing and only checks the P4Info and cookie it reports.
	Preloaded Target = "preloaded"
)

// Targets lists every target, in the order docs/config.md gives them.
var Targets = []Target{BMv2, Software, Stratum, BfSwitchd, Preloaded}

// ParseTarget returns the target of a config's name; "" is bmv2.
func ParseTarget(s string) (Target, error) {
	if s == "" {
		return BMv2, nil
	}
	for _, t := range Targets {
		if string(t) == s {
			return t, nil
		}
	}
	names := make([]string, len(Targets))
	for i, t := range Targets {
		names[i] = string(t)
	}
	return "", fmt.Errorf("unknown target %q (want one of %s)", s, strings.Join(names, ", "))
}

// Tofino reports whether the target runs the Tofino build of the pipeline.
func (t Target) Tofino() bool { return t == Stratum || t == BfSwitchd }

// PushesPipeline reports whether the controller sends a device config.
func (t Target) PushesPipeline() bool { return t != Preloaded }
