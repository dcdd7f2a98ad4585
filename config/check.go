// SPDX-License-Identifier: Apache-2.0

package config

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/symdist/symdist/contract"
	"gopkg.in/yaml.v3"
)

// validator collects errors, each located in the YAML by its field path.
type validator struct {
	file string
	root *yaml.Node
	errs []error
}

// line finds the line of a path like ("tms", 2, "weight") in the YAML, or
// of the nearest parent that exists.
func (v *validator) line(path ...any) int {
	_, line := v.find(path...)
	return line
}

// find returns the YAML node at path (nil when absent) and its line, or the
// line of the nearest parent that exists.
func (v *validator) find(path ...any) (*yaml.Node, int) {
	n := v.root
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 1
	if n != nil {
		line = n.Line
	}
	for _, p := range path {
		if n == nil {
			break
		}
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						next = n.Content[i+1]
						line = n.Content[i].Line
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
		}
		n = next
	}
	return n, line
}

func fieldName(path []any) string {
	s := ""
	for _, p := range path {
		switch k := p.(type) {
		case string:
			if s != "" {
				s += "."
			}
			s += k
		case int:
			s += "[" + strconv.Itoa(k) + "]"
		}
	}
	return s
}

// fail records a problem with the field at path.
func (v *validator) fail(path []any, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s:%d: %s: %s", v.file, v.line(path...), fieldName(path), fmt.Sprintf(format, args...)))
}

func at(path ...any) []any { return path }

var roles = map[string]bool{"edge": true, "tm": true, "peer": true}

func (c *Config) check(v *validator) {
	c.checkBuckets(v)
	if host, _, err := net.SplitHostPort(c.Admin.Listen); err != nil {
		v.fail(at("admin", "listen"), "not host:port: %v", err)
	} else if !isLoopback(host) && c.Admin.Token == "" {
		v.fail(at("admin", "token"), "required when admin.listen (%s) is not a loopback address", c.Admin.Listen)
	}
	if h := c.Handover(); h < 0 || h > time.Minute {
		v.fail(at("handover_timeout"), "must be from 0 (no wait) to 1m, got %v", h)
	}
	if w := c.Chain(); w < 0 || w > MaxChainWindow {
		v.fail(at("chain_window"), "must be from 0 (no chaining) to %v, got %v", MaxChainWindow, w)
	}
	for i, u := range c.Controllers {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || strings.Contains(u, ",") {
			v.fail(at("controllers", i), "want an admin API URL such as http://10.0.9.1:9090, got %q", u)
		}
	}
	if len(c.Switches) == 0 {
		v.fail(at("switches"), "at least one switch is needed")
	}
	switches := map[string]*Switch{}
	type endpoint struct {
		addr   string
		device uint64
	}
	endpoints := map[endpoint]int{}
	for i := range c.Switches {
		s := &c.Switches[i]
		p := func(f ...any) []any { return append(at("switches", i), f...) }
		if s.Name == "" {
			v.fail(p("name"), "missing")
		} else if err := contract.CheckName(s.Name); err != nil {
			v.fail(p("name"), "%v", err)
		} else if switches[s.Name] != nil {
			v.fail(p("name"), "duplicate switch %q", s.Name)
		}
		switches[s.Name] = s
		if _, _, err := net.SplitHostPort(s.Address); err != nil {
			v.fail(p("address"), "not host:port: %v", err)
		} else {
			k := endpoint{addressKey(s.Address), s.DeviceID}
			if o, dup := endpoints[k]; dup {
				v.fail(p("address"), "switches %s and %s are both %s device_id %d: one P4Runtime device, so one entry would never be the controller's (its stream is refused and retried forever); give each switch its own address or device id", c.Switches[o].Name, s.Name, s.Address, s.DeviceID)
			} else {
				endpoints[k] = i
			}
		}
		v.checkTarget(s, p)
		v.checkPorts(s, p)
		if (s.P4Info == "") != (s.JSON == "") && !s.targetIsTofino() && s.Target != "preloaded" {
			v.fail(p("p4info"), "p4info and bmv2_json go together")
		}
		if s.TLS != nil && (s.TLS.Cert == "") != (s.TLS.Key == "") {
			v.fail(p("tls"), "cert and key go together (mutual TLS)")
		}
		seen := map[uint16]bool{}
		for j, port := range s.Ports {
			if seen[port.Port] {
				v.fail(p("ports", j, "port"), "port %d given twice", port.Port)
			}
			seen[port.Port] = true
			if !roles[port.Role] {
				v.fail(p("ports", j, "role"), "role %q: want edge, tm or peer", port.Role)
			}
		}
		for j, fp := range s.FloodPorts {
			if !seen[fp] {
				v.fail(p("flood_ports", j), "port %d has no role on this switch", fp)
			}
		}
		for j, e := range s.L2 {
			if m, err := net.ParseMAC(e.MAC); err != nil || len(e.MAC) != 17 {
				v.fail(p("l2", j, "mac"), "not a MAC address: %q", e.MAC)
			} else if why := notUnicast(m); why != "" {
				v.fail(p("l2", j, "mac"), "static MAC %s of switch %s is %s: l2_forward forwards frames to one host's unicast MAC", m, s.Name, why)
			}
			if !seen[e.Port] {
				v.fail(p("l2", j, "port"), "port %d has no role on this switch", e.Port)
			}
		}
	}
	groups := map[string]bool{}
	groupIDs := map[uint16]bool{}
	for i, g := range c.Groups {
		p := func(f ...any) []any { return append(at("groups", i), f...) }
		if g.Name == "" {
			v.fail(p("name"), "missing")
		} else if err := contract.CheckName(g.Name); err != nil {
			v.fail(p("name"), "%v", err)
		} else if groups[g.Name] {
			v.fail(p("name"), "duplicate group %q", g.Name)
		}
		groups[g.Name] = true
		if g.ID == 0 {
			v.fail(p("id"), "must be 1-65535 (0 means no group)")
		} else if groupIDs[g.ID] {
			v.fail(p("id"), "duplicate group id %d", g.ID)
		}
		groupIDs[g.ID] = true
		if len(g.Rules) == 0 {
			v.fail(p("rules"), "a group needs at least one classification rule")
		}
		for j, r := range g.Rules {
			rp := func(f string) []any { return p("rules", j, f) }
			if r.Priority <= 0 {
				v.fail(rp("priority"), "must be > 0")
			}
			if r.VLAN > 4095 {
				v.fail(rp("vlan"), "VLAN %d out of range 0-4095", r.VLAN)
			}
			if r.IPVersion != 0 && r.IPVersion != 4 && r.IPVersion != 6 {
				v.fail(rp("ip_version"), "want 4, 6 or 0 (any), got %d", r.IPVersion)
			}
			for _, f := range []struct {
				name, val string
			}{{"src", r.Src}, {"dst", r.Dst}} {
				pf, err := Prefix(f.val)
				if err != nil {
					v.fail(rp(f.name), "not a prefix: %v", err)
					continue
				}
				if pf.IsValid() && r.IPVersion != 0 && (pf.Addr().Is4() != (r.IPVersion == 4)) {
					v.fail(rp(f.name), "prefix %s is not IPv%d", pf, r.IPVersion)
				}
			}
		}
		if g.DefaultTM == "" {
			v.fail(p("default_tm"), "missing")
		} else if tm := c.TM(g.DefaultTM); tm == nil || tm.Group != g.Name {
			v.fail(p("default_tm"), "%q is not a TM of group %q", g.DefaultTM, g.Name)
		}
	}
	if max := builtin().sizes.DefaultTM; len(c.Groups) > max {
		v.fail(at("groups"), "at most %d groups (default_tm size in the P4Info), got %d", max, len(c.Groups))
	}
	tmNames := map[string]bool{}
	tmIDs := map[uint16]bool{}
	addrs := map[netip.Addr]string{}
	ruleHosts := c.ruleHosts()
	for i, tm := range c.TMs {
		p := func(f ...any) []any { return append(at("tms", i), f...) }
		if tm.Name == "" {
			v.fail(p("name"), "missing")
		} else if err := contract.CheckName(tm.Name); err != nil {
			v.fail(p("name"), "%v", err)
		} else if tmNames[tm.Name] {
			v.fail(p("name"), "duplicate TM %q", tm.Name)
		}
		tmNames[tm.Name] = true
		if cells := builtin().sizes.TMCounter; tm.ID == 0 || int(tm.ID) >= cells {
			v.fail(p("id"), "must be 1-%d (its tm_counter index; P4Info size %d), got %d", cells-1, cells, tm.ID)
		} else if tmIDs[tm.ID] {
			v.fail(p("id"), "duplicate TM id %d", tm.ID)
		}
		tmIDs[tm.ID] = true
		if !groups[tm.Group] {
			v.fail(p("group"), "no group %q", tm.Group)
		}
		if n, _ := v.find("tms", i, "weight"); n != nil && n.Value == "0" {
			v.fail(p("weight"), "weight 0 is refused: it would not stop traffic (an absent weight is 1); to take a TM out of service, drain it (POST /api/tms/%s/drain)", tm.Name)
		} else if tm.Weight < 1 || tm.Weight > 1000 {
			v.fail(p("weight"), "must be 1-1000, got %d", tm.Weight)
		}
		for j, a := range tm.Addresses {
			addr, err := netip.ParseAddr(a)
			if err != nil {
				v.fail(p("addresses", j), "not an address: %q", a)
			} else if r, ok := ruleHosts[addr.Unmap()]; ok {
				v.fail(p("addresses", j), "%s of TM %s is %s of group %s (groups[%d].rules[%d]): packets to a TM's own address go to it directly, so every packet to %s would bypass group %s's bucket table", addr, tm.Name, r.what, r.group, r.gi, r.ri, addr, r.group)
			} else if other, dup := addrs[addr]; dup {
				v.fail(p("addresses", j), "%s is already %s's", addr, other)
			} else {
				addrs[addr] = tm.Name
			}
		}
		for j, a := range tm.SNAT {
			if _, err := netip.ParseAddr(a); err != nil {
				v.fail(p("snat", j), "not an address: %q", a)
			}
		}
		if len(tm.Ports) == 0 {
			v.fail(p("ports"), "the TM has no port on any switch")
		}
		for sw, tp := range tm.Ports {
			s := switches[sw]
			if s == nil {
				v.fail(p("ports", sw), "no switch %q", sw)
				continue
			}
			if role := portRole(s, tp.Port); role != "tm" {
				v.fail(p("ports", sw, "port"), "port %d of switch %s has role %q, want tm", tp.Port, sw, role)
			}
			if m, err := net.ParseMAC(tp.MAC); err != nil || len(m) != 6 {
				v.fail(p("ports", sw, "mac"), "not a MAC address: %q", tp.MAC)
			} else if why := notUnicast(m); why != "" {
				v.fail(p("ports", sw, "mac"), "MAC %s of TM %s on switch %s is %s: a TM's MAC must be unicast (the switches send its packets and its l2_forward entry to it)", m, tm.Name, sw, why)
			}
		}
		// Every switch holds every group's bucket table: a TM without a
		// port on one has no bucket entries there, so the packets of its
		// buckets that cross that switch go elsewhere and both directions
		// of a flow no longer meet at one TM.
		for _, s := range c.Switches {
			if _, ok := tm.Ports[s.Name]; !ok && len(tm.Ports) > 0 {
				v.fail(p("ports"), "TM %s has no port on switch %s: every switch holds group %s's bucket table, so a TM needs a port (and MAC) on each, or its buckets there would have no entry and the flows in them would lose symmetry", tm.Name, s.Name, tm.Group)
			}
		}
		h := tm.Health
		switch h.Type {
		case "none":
		case "tcp":
			if _, _, err := net.SplitHostPort(h.Target); err != nil {
				v.fail(p("health", "target"), "tcp check needs host:port: %v", err)
			}
		case "http":
			if u, err := url.Parse(h.Target); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				v.fail(p("health", "target"), "http check needs an http(s) URL, got %q", h.Target)
			}
		default:
			v.fail(p("health", "type"), "want tcp, http or none, got %q", h.Type)
		}
		if h.Interval < 10e6 {
			v.fail(p("health", "interval"), "at least 10ms, got %v", h.Interval)
		}
		if h.Timeout <= 0 || h.Timeout > h.Interval {
			v.fail(p("health", "timeout"), "must be > 0 and at most the interval (%v), got %v", h.Interval, h.Timeout)
		}
		if h.Rise < 1 || h.Fall < 1 {
			v.fail(p("health", "rise"), "rise and fall must be at least 1")
		}
	}
	for i, g := range c.Groups {
		if len(c.TMsOf(g.Name)) == 0 {
			v.fail(at("groups", i, "name"), "group %q has no TMs", g.Name)
		}
	}
	c.checkTables(v)
}

func portRole(s *Switch, port uint16) string {
	for _, p := range s.Ports {
		if p.Port == port {
			return p.Role
		}
	}
	return "none"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// addressKey is a switch address as a comparable endpoint: the host in
// lower case (an IP address in its canonical form) and the port.
func addressKey(hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().String()
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}

// notUnicast says why a MAC cannot be one host's: "" when it can.
func notUnicast(m net.HardwareAddr) string {
	switch {
	case bytes.Equal(m, net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}):
		return "the broadcast address"
	case m[0]&1 != 0:
		return "a multicast address (the low bit of its first byte is set)"
	case bytes.Equal(m, make(net.HardwareAddr, len(m))):
		return "all zeros"
	}
	return ""
}

// ruleRef is a group rule whose src or dst is one host.
type ruleRef struct {
	group  string
	gi, ri int
	what   string // "the dst 10.0.0.100/32 of a rule"
}

// ruleHosts maps each single address a rule's src or dst prefix names (a
// VIP or a shared SNAT address) to the first rule, of any group, that
// names it.
func (c *Config) ruleHosts() map[netip.Addr]ruleRef {
	hosts := map[netip.Addr]ruleRef{}
	for gi, g := range c.Groups {
		for ri, r := range g.Rules {
			for _, f := range []struct{ name, val string }{{"dst", r.Dst}, {"src", r.Src}} {
				pf, err := Prefix(f.val)
				if err != nil || !pf.IsValid() || !pf.IsSingleIP() {
					continue
				}
				if _, taken := hosts[pf.Addr().Unmap()]; !taken {
					hosts[pf.Addr().Unmap()] = ruleRef{group: g.Name, gi: gi, ri: ri, what: fmt.Sprintf("the %s %s of a rule", f.name, pf)}
				}
			}
		}
	}
	return hosts
}
