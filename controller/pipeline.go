// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"

	"github.com/symdist/symdist/p4rt"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/devconfig"
	"github.com/symdist/symdist/p4info"
	"google.golang.org/protobuf/proto"
)

// switchPipeline is what the controller pushes to one switch, by its
// target: the P4Info, the device config in the target's format, and the
// cookie that tells whether the switch already runs it.
type switchPipeline struct {
	target  devconfig.Target
	info    *p4configv1.P4Info
	devConf []byte
	cookie  uint64
	// ports is how info types the port fields, which the switch's
	// entries are written in (the Tofino build's are translated, 32 bits).
	ports p4info.Ports
}

// newSwitchPipeline builds a switch's pipeline from its config. A P4Info
// file given in the config must resolve every name to the same ID as the
// built-in one: the controller writes entries by those IDs.
func newSwitchPipeline(sw *config.Switch, builtIn *p4info.Schema, ids *p4info.IDs) (*switchPipeline, error) {
	t, err := devconfig.ParseTarget(sw.Target)
	if err != nil {
		return nil, fmt.Errorf("switch %s: %w", sw.Name, err)
	}
	p := &switchPipeline{target: t, info: builtIn.Info, cookie: p4info.Cookie()}
	custom := false
	if sw.P4Info != "" {
		text, err := os.ReadFile(sw.P4Info)
		if err != nil {
			return nil, fmt.Errorf("switch %s: p4info: %w", sw.Name, err)
		}
		s, err := p4info.Parse(text)
		if err != nil {
			return nil, fmt.Errorf("switch %s: p4info %s: %w", sw.Name, sw.P4Info, err)
		}
		got, err := s.Resolve()
		if err != nil {
			return nil, fmt.Errorf("switch %s: p4info %s is not symdist's: %w", sw.Name, sw.P4Info, err)
		}
		if *got != *ids {
			return nil, fmt.Errorf("switch %s: p4info %s names symdist's tables and actions with other IDs than the built-in pipeline; build it with the same @id annotations (docs/hardware.md)", sw.Name, sw.P4Info)
		}
		p.info, custom = s.Info, true
	}
	schema := builtIn
	if custom {
		if schema, err = p4info.NewSchema(p.info); err != nil {
			return nil, fmt.Errorf("switch %s: p4info %s: %w", sw.Name, sw.P4Info, err)
		}
	}
	if p.ports, err = schema.ResolvePorts(); err != nil {
		return nil, fmt.Errorf("switch %s: %w", sw.Name, err)
	}
	switch t {
	case devconfig.BMv2, devconfig.Software:
		p.devConf = p4info.BMv2JSON()
		if sw.JSON != "" {
			if p.devConf, err = os.ReadFile(sw.JSON); err != nil {
				return nil, fmt.Errorf("switch %s: bmv2_json: %w", sw.Name, err)
			}
			custom = true
		}
	case devconfig.Stratum, devconfig.BfSwitchd:
		if sw.Tofino == nil {
			return nil, fmt.Errorf("switch %s: target %s needs tofino.conf", sw.Name, t)
		}
		tp, err := devconfig.LoadTofino(sw.Tofino.Conf, sw.Tofino.Profile)
		if err != nil {
			return nil, fmt.Errorf("switch %s: %w", sw.Name, err)
		}
		if t == devconfig.Stratum {
			p.devConf = devconfig.StratumConfig(tp)
		} else if p.devConf, err = devconfig.BfSwitchdConfig(tp); err != nil {
			return nil, fmt.Errorf("switch %s: %w", sw.Name, err)
		}
		custom = true
	}
	if custom {
		// The cookie names what is pushed, so a new build is pushed again.
		h := fnv.New64a()
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(p.info)
		h.Write(b)
		h.Write(p.devConf)
		p.cookie = h.Sum64()
	}
	return p, nil
}

// ensurePipeline makes the switch run the pipeline: pushed when its cookie
// differs; for a preloaded switch nothing is pushed and the P4Info it
// reports must be symdist's.
func (c *Controller) ensurePipeline(ctx context.Context, sw *switchState, sess *p4rt.Session) error {
	p := sw.pipe
	if !p.target.PushesPipeline() {
		return checkPreloaded(ctx, sess, c.ids, p.ports)
	}
	cookie, ok, err := sess.PipelineCookie(ctx)
	if err != nil {
		return fmt.Errorf("reading pipeline: %w", err)
	}
	if !ok || cookie != p.cookie {
		c.log.Info("pushing pipeline", "switch", sw.cfg.Name, "target", p.target, "cookie", p.cookie, "device_config_bytes", len(p.devConf), "ports", p.ports.String())
		if err := sess.SetPipeline(ctx, p.info, p.devConf, p.cookie); err != nil {
			return fmt.Errorf("pushing pipeline: %w", err)
		}
	}
	return nil
}

// checkPreloaded reads the P4Info a preloaded switch runs and checks that
// it names symdist's tables and actions with the IDs the controller
// writes, and types its ports as the P4Info of the switch's config (the
// built-in one unless p4info is given), which the entries are written for.
func checkPreloaded(ctx context.Context, sess *p4rt.Session, ids *p4info.IDs, ports p4info.Ports) error {
	info, ok, err := sess.PipelineP4Info(ctx)
	if err != nil {
		return fmt.Errorf("reading pipeline: %w", err)
	}
	if !ok {
		return fmt.Errorf("preloaded switch runs no pipeline: load symdist's on it first (docs/hardware.md)")
	}
	s, err := p4info.NewSchema(info)
	if err != nil {
		return fmt.Errorf("preloaded switch's P4Info: %w", err)
	}
	got, err := s.Resolve()
	if err != nil {
		return fmt.Errorf("preloaded switch runs another program: %w", err)
	}
	if *got != *ids {
		return fmt.Errorf("preloaded switch runs a build of symdist with other IDs than this controller's")
	}
	gotPorts, err := s.ResolvePorts()
	if err != nil {
		return fmt.Errorf("preloaded switch's P4Info: %w", err)
	}
	if gotPorts != ports {
		return fmt.Errorf("preloaded switch's P4Info types its ports as %v, the config's P4Info as %v: give the P4Info it runs as the switch's p4info (docs/hardware.md)", gotPorts, ports)
	}
	return nil
}
