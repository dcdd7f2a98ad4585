// SPDX-License-Identifier: Apache-2.0

package config

import (
	"github.com/symdist/symdist/devconfig"
)

// Tofino names the Tofino compiler's output for a switch whose target is
// stratum or bf_switchd (docs/hardware.md).
type Tofino struct {
	// Conf is the compiler's <program>.conf; the files it names are read
	// from beside it.
	Conf string `yaml:"conf"`
	// Profile is the P4 pipeline to load ("pipe" by default with p4c's
	// Tofino back end); empty: every one (Stratum), required for bf_switchd
	// when the program has several.
	Profile string `yaml:"profile"`
}

// checkTarget checks a switch's target and the pipeline files it needs:
// a hardware target without a compiled pipeline is refused here, not at
// the first push.
func (v *validator) checkTarget(s *Switch, p func(f ...any) []any) {
	t, err := devconfig.ParseTarget(s.Target)
	if err != nil {
		v.fail(p("target"), "%v", err)
		return
	}
	switch {
	case t.Tofino() && s.Tofino == nil:
		v.fail(p("tofino"), "target %s needs the Tofino build of the pipeline: compile p4src for Tofino and give tofino.conf (docs/hardware.md)", t)
	case t.Tofino() && s.Tofino.Conf == "":
		v.fail(p("tofino", "conf"), "missing: the Tofino compiler's .conf file (docs/hardware.md)")
	case t.Tofino():
		pl, err := devconfig.LoadTofino(s.Tofino.Conf, s.Tofino.Profile)
		if err != nil {
			v.fail(p("tofino", "conf"), "no compiled pipeline: %v", err)
		} else if t == devconfig.BfSwitchd {
			if _, err := devconfig.BfSwitchdConfig(pl); err != nil {
				v.fail(p("tofino", "profile"), "%v", err)
			}
		}
	case s.Tofino != nil:
		v.fail(p("tofino"), "only for the stratum and bf_switchd targets, not %s", t)
	}
	if t.Tofino() && s.JSON != "" {
		v.fail(p("bmv2_json"), "a bmv2 JSON means nothing to a %s switch", t)
	}
}

func (s *Switch) targetIsTofino() bool {
	t, err := devconfig.ParseTarget(s.Target)
	return err == nil && t.Tofino()
}
