// SPDX-License-Identifier: Apache-2.0

package config

import (
	"errors"
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"
)

// CheckReload parses data (a config file called name) as the next config
// of a controller running with running. Besides everything `config check`
// finds, it refuses the changes a running controller cannot make (they
// need a restart): the bucket count (the top-level default and an existing
// group's), the election id, the admin listener
// and token, and a switch's name, address, device id, TLS or pipeline
// files, or adding or removing a switch. Every error is file:line: field:
// problem, located in data.
//
// What may change at run time: TMs (added, removed, weights, ports,
// addresses, SNAT, health checks, moving to another group), groups (added,
// removed, rules, default TM, id), and a switch's port roles, flood ports
// and static L2 entries.
func CheckReload(running *Config, name string, data []byte) (*Config, error) {
	next, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root) // Parse succeeded, so this does too
	v := &validator{file: name, root: &root}
	const restart = "needs a controller restart (running: %v, file: %v)"
	if next.Buckets != running.Buckets {
		v.fail(at("buckets"), restart+"; a new bucket count moves every flow", running.Buckets, next.Buckets)
	}
	for i, g := range next.Groups {
		if old := running.Group(g.Name); old != nil && old.Buckets != g.Buckets {
			v.fail(at("groups", i, "buckets"), restart+"; a new bucket count moves every flow of group %s", old.Buckets, g.Buckets, g.Name)
		}
	}
	if next.ElectionID != running.ElectionID {
		v.fail(at("election_id"), restart, running.ElectionID, next.ElectionID)
	}
	if next.Admin.Listen != running.Admin.Listen {
		v.fail(at("admin", "listen"), restart, running.Admin.Listen, next.Admin.Listen)
	}
	if next.Admin.Token != running.Admin.Token {
		v.fail(at("admin", "token"), "needs a controller restart (the token changed)")
	}
	for i := range next.Switches {
		s := &next.Switches[i]
		old := running.Switch(s.Name)
		if old == nil {
			v.fail(at("switches", i, "name"), "adding switch %q needs a controller restart", s.Name)
			continue
		}
		p := func(f ...any) []any { return append(at("switches", i), f...) }
		for _, f := range []struct {
			field     string
			was, is   any
			different bool
		}{
			{"address", old.Address, s.Address, old.Address != s.Address},
			{"device_id", old.DeviceID, s.DeviceID, old.DeviceID != s.DeviceID},
			{"tls", tlsString(old.TLS), tlsString(s.TLS), !equalTLS(old.TLS, s.TLS)},
			{"p4info", old.P4Info, s.P4Info, old.P4Info != s.P4Info},
			{"bmv2_json", old.JSON, s.JSON, old.JSON != s.JSON},
			{"target", old.Target, s.Target, old.Target != s.Target},
			{"tofino", tofinoString(old.Tofino), tofinoString(s.Tofino), tofinoString(old.Tofino) != tofinoString(s.Tofino)},
		} {
			if f.different {
				v.fail(p(f.field), restart, f.was, f.is)
			}
		}
	}
	for _, s := range running.Switches {
		if next.Switch(s.Name) == nil {
			v.fail(at("switches"), "removing switch %q needs a controller restart", s.Name)
		}
	}
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	return next, nil
}

func tlsString(t *TLS) string {
	if t == nil {
		return "plaintext"
	}
	return fmt.Sprintf("%+v", *t)
}

func equalTLS(a, b *TLS) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Switch returns the switch called name, or nil.
func (c *Config) Switch(name string) *Switch {
	i := slices.IndexFunc(c.Switches, func(s Switch) bool { return s.Name == name })
	if i < 0 {
		return nil
	}
	return &c.Switches[i]
}

func tofinoString(t *Tofino) string {
	if t == nil {
		return "none"
	}
	return fmt.Sprintf("{conf: %s, profile: %s}", t.Conf, t.Profile)
}
