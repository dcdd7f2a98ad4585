// SPDX-License-Identifier: Apache-2.0

// Package config reads and checks the controller's YAML configuration: the
// switches of a deployment, their port roles, the groups of TMs with their
// classification rules, and the TMs with their ports, addresses and health
// checks. Every error names the file, line, field and problem.
//
// Parse rejects unknown fields, fills in defaults and runs every check.
// Some checks need the pipeline (tables.go): table capacities from the
// P4Info sizes, and config items that would become one table entry (the
// controller would keep the first and drop the rest). CheckReload holds
// a new config against the running one and refuses what needs a restart.
// docs/config.md documents every field; examples/ has complete configs.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is a whole deployment as the controller runs it.
type Config struct {
	// Buckets is the default bucket count (B) of a group, a power of two:
	// 4096 unless set. Each group may set its own.
	Buckets int `yaml:"buckets"`
	// ElectionID of this controller; the highest of two is primary.
	ElectionID uint64   `yaml:"election_id"`
	Admin      Admin    `yaml:"admin"`
	Switches   []Switch `yaml:"switches"`
	Groups     []Group  `yaml:"groups"`
	TMs        []TM     `yaml:"tms"`

	// HandoverTimeout bounds how long the controller waits for TMs to
	// acknowledge lost buckets before it writes the switches; 0: no wait.
	// Default 1s (DefaultHandoverTimeout).
	HandoverTimeout *time.Duration `yaml:"handover_timeout"`
	// ChainWindow is how long, after a planned move, the new owner of a
	// bucket hands packets of connections it does not know to the bucket's
	// previous owner (docs/tmapi.md, "Chaining"); 0 turns chaining off.
	// Default 10m (DefaultChainWindow).
	ChainWindow *time.Duration `yaml:"chain_window"`
	// Controllers are the admin API URLs of every controller of the pair
	// (this one included), the same list in both configs. With it, a
	// backup names the primary to clients, the controllers keep one
	// config between them and a new primary waits for the TMs the old one
	// had (docs/design.md, "The controller pair").
	Controllers []string `yaml:"controllers"`
}

// Admin is the HTTP admin API and /metrics.
type Admin struct {
	Listen string `yaml:"listen"` // default 127.0.0.1:9090; "" after defaults = off
	Token  string `yaml:"token"`  // required when Listen is not loopback
	// Hosts are extra names the API is reached by (Host header), besides
	// IP addresses and localhost; other names are refused (DNS rebinding).
	Hosts []string `yaml:"hosts"`
}

// Switch is one distributor reached over P4Runtime.
type Switch struct {
	Name     string `yaml:"name"`
	Address  string `yaml:"address"` // host:port of its P4Runtime server
	DeviceID uint64 `yaml:"device_id"`
	TLS      *TLS   `yaml:"tls"`
	// Target is the kind of switch: bmv2 (default), software, stratum,
	// bf_switchd or preloaded (package devconfig, docs/hardware.md).
	Target string  `yaml:"target"`
	Tofino *Tofino `yaml:"tofino"`
	// Pipeline files; empty means the pipeline built into symdist.
	P4Info string `yaml:"p4info"`
	JSON   string `yaml:"bmv2_json"`
	Ports  []Port `yaml:"ports"`
	// PortNumbers is what the port numbers of this switch (ports,
	// flood_ports, l2 and the TMs' ports) are: "device" (the default),
	// the device's own, 0-510; or "singleton", Stratum's singleton port
	// ids, 1-65535, which needs target stratum (or preloaded), the Tofino
	// build's P4Info as p4info, and Stratum run with
	// --experimental_enable_p4runtime_translation (docs/hardware.md, "Port
	// numbers on Tofino").
	PortNumbers string `yaml:"port_numbers"`
	// FloodPorts get flooded frames (ARP, ND, unknown unicast); default:
	// every port with a role.
	FloodPorts []uint16 `yaml:"flood_ports"`
	// L2 are static l2_forward entries (hosts on edge ports); the TMs' MACs
	// are added by the controller.
	L2 []L2Entry `yaml:"l2"`
}

// TLS for the P4Runtime connection; with Cert and Key, mutual TLS.
type TLS struct {
	CA         string `yaml:"ca"`
	Cert       string `yaml:"cert"`
	Key        string `yaml:"key"`
	ServerName string `yaml:"server_name"`
}

// Port gives a switch port its role.
type Port struct {
	Port uint16 `yaml:"port"`
	Role string `yaml:"role"` // edge, tm, peer
}

// L2Entry is a static MAC -> port entry.
type L2Entry struct {
	MAC  string `yaml:"mac"`
	Port uint16 `yaml:"port"`
}

// Group is a partition of the TMs with its own bucket table.
type Group struct {
	Name      string `yaml:"name"`
	ID        uint16 `yaml:"id"` // 1-65535, the group_id in the pipeline
	DefaultTM string `yaml:"default_tm"`
	// Buckets is the group's bucket count (B), a power of two; default the
	// top-level buckets.
	Buckets int    `yaml:"buckets"`
	Rules   []Rule `yaml:"rules"`
}

// Rule is a classification rule; the controller also writes its mirror
// image (source and destination swapped) so that replies match too.
type Rule struct {
	Priority  int32  `yaml:"priority"`
	VLAN      uint16 `yaml:"vlan"`       // 0: any
	IPVersion uint8  `yaml:"ip_version"` // 0: any
	Src       string `yaml:"src"`        // prefix; "": any
	Dst       string `yaml:"dst"`
	Proto     uint8  `yaml:"proto"` // 0: any
}

// TM is one traffic manager.
type TM struct {
	Name   string `yaml:"name"`
	ID     uint16 `yaml:"id"` // 1-1023: its tm_counter index and member ID
	Group  string `yaml:"group"`
	Weight int    `yaml:"weight"` // default 1
	// Addresses are the TM's own addresses: packets to them go to it
	// directly.
	Addresses []string `yaml:"addresses"`
	// SNAT addresses it source-NATs to (for self-source ports).
	SNAT []string `yaml:"snat"`
	// Ports is the TM's port and MAC on each switch, by switch name.
	Ports  map[string]TMPort `yaml:"ports"`
	Health Health            `yaml:"health"`
}

// TMPort is where a TM sits on one switch.
type TMPort struct {
	Port uint16 `yaml:"port"`
	MAC  string `yaml:"mac"`
}

// Health is a TM's health check.
type Health struct {
	Type     string        `yaml:"type"`   // tcp, http or none (default none: always up)
	Target   string        `yaml:"target"` // host:port (tcp) or URL (http)
	Interval time.Duration `yaml:"interval"`
	Timeout  time.Duration `yaml:"timeout"`
	Rise     int           `yaml:"rise"` // successes to come up
	Fall     int           `yaml:"fall"` // failures to go down
}

// Load reads, defaults and checks a config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse reads, defaults and checks a config; name is used in errors.
func Parse(name string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// yaml reads one document at a time: a second one would be ignored.
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		return nil, fmt.Errorf("%s: a second YAML document (a config file holds one): %w", name, err)
	default:
		return nil, fmt.Errorf("%s:%d: a second YAML document: a config file holds one (the first would be used and this one ignored)", name, next.Line)
	}
	c.setDefaults()
	v := &validator{file: name, root: &root}
	c.check(v)
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	return c, nil
}

func (c *Config) setDefaults() {
	if c.Buckets == 0 {
		c.Buckets = 4096
	}
	if c.ElectionID == 0 {
		c.ElectionID = 1
	}
	if c.Admin.Listen == "" {
		c.Admin.Listen = "127.0.0.1:9090"
	}
	if c.HandoverTimeout == nil {
		d := DefaultHandoverTimeout
		c.HandoverTimeout = &d
	}
	if c.ChainWindow == nil {
		d := DefaultChainWindow
		c.ChainWindow = &d
	}
	for i := range c.Groups {
		if c.Groups[i].Buckets == 0 {
			c.Groups[i].Buckets = c.Buckets
		}
	}
	for i := range c.TMs {
		tm := &c.TMs[i]
		if tm.Weight == 0 {
			tm.Weight = 1
		}
		h := &tm.Health
		if h.Type == "" {
			h.Type = "none"
		}
		if h.Interval == 0 {
			h.Interval = time.Second
		}
		if h.Timeout == 0 {
			h.Timeout = 500 * time.Millisecond
		}
		if h.Rise == 0 {
			h.Rise = 2
		}
		if h.Fall == 0 {
			h.Fall = 3
		}
	}
}

// DefaultHandoverTimeout is handover_timeout when the config has none.
const DefaultHandoverTimeout = time.Second

// Handover is handover_timeout, defaulted (for a Config not from Parse).
func (c *Config) Handover() time.Duration {
	if c.HandoverTimeout == nil {
		return DefaultHandoverTimeout
	}
	return *c.HandoverTimeout
}

// DefaultChainWindow is chain_window when the config has none: long
// enough for the connections a maintenance step leaves open to finish or
// be noticed, short enough that a bucket's history stays small.
const DefaultChainWindow = 10 * time.Minute

// MaxChainWindow bounds chain_window.
const MaxChainWindow = 24 * time.Hour

// Chain is chain_window, defaulted (for a Config not from Parse).
func (c *Config) Chain() time.Duration {
	if c.ChainWindow == nil {
		return DefaultChainWindow
	}
	return *c.ChainWindow
}

// Group returns the group called name, or nil.
func (c *Config) Group(name string) *Group {
	for i := range c.Groups {
		if c.Groups[i].Name == name {
			return &c.Groups[i]
		}
	}
	return nil
}

// TMsOf returns the TMs of a group, in config order.
func (c *Config) TMsOf(group string) []*TM {
	var tms []*TM
	for i := range c.TMs {
		if c.TMs[i].Group == group {
			tms = append(tms, &c.TMs[i])
		}
	}
	return tms
}

// TM returns the TM called name, or nil.
func (c *Config) TM(name string) *TM {
	for i := range c.TMs {
		if c.TMs[i].Name == name {
			return &c.TMs[i]
		}
	}
	return nil
}

// ParseMAC parses a MAC the config gave (already checked).
func ParseMAC(s string) net.HardwareAddr {
	m, _ := net.ParseMAC(s)
	return m
}

// Prefix parses a rule's prefix; "" is the zero (any) prefix. A bare
// address is a host prefix.
func Prefix(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.ParsePrefix(s)
}
