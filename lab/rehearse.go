// SPDX-License-Identifier: Apache-2.0

package lab

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/controller"
	"github.com/symdist/symdist/internal/ifswitch"
)

// What the lab adds where a config is silent (docs/mininet.md,
// lab/README.md): the client and server hosts, their ports, and the TMs'
// management network.
var (
	// RehearseClients4/6 are the client namespace's addresses (TEST-NET-2,
	// documentation prefix): they must match every VIP rule's source.
	RehearseClients4 = []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"}
	RehearseClients6 = []string{"2001:db8:c::1", "2001:db8:c::2", "2001:db8:c::3", "2001:db8:c::4"}
	// RehearseServer4/6 are the server namespace's addresses (TEST-NET-3).
	RehearseServer4 = "203.0.113.10"
	RehearseServer6 = "2001:db8:5::10"
)

const (
	rehearseVIPPort    = 80              // every VIP's port
	rehearseServerPort = 8080            // the HTTP server's, on each server address
	rehearseHTTPPort   = 8081            // each TM's /healthz and /stats when the config's health check names none
	rehearseHold       = 3 * time.Second // a TM's --hold: how long a connection may wait for a self port
)

// RehearseOptions are a rehearsal's.
type RehearseOptions struct {
	Config string // the deployment's config file
	Prefix string // of namespace and link names, e.g. "rh"
	Binary string // the symdist binary the TMs run
	Switch string // "soft" or "bmv2"
	Dir    string // logs and the rewritten config
	Log    *slog.Logger
	// NoChain runs the TMs without chaining (symdist tm --chain=false):
	// the control run, in which the established step must fail.
	NoChain bool
	// NoEstablished leaves out the established step (EstablishedConnections
	// long-lived connections through every planned change).
	NoEstablished bool
	// Attach, if set, is a topology someone else built (mininet/run.py):
	// the lab adds addresses, the management network, the server, the
	// controller and the TMs to its hosts, and starts no switch.
	Attach *Attachment
}

// Attachment is a topology built outside the lab, as mininet/run.py
// writes it (JSON): the process of each host, whose network namespace
// the lab uses, and each switch's P4Runtime address. Hosts are "client",
// "server" and the config's TM names, with the interfaces the lab would
// give them (eth0 on the client and server, sw0 and sw1 on a TM for its
// legs on the first and second switch) and the config's MACs.
type Attachment struct {
	Hosts    map[string]int `json:"hosts"` // name -> PID
	Switches map[string]struct {
		Address  string `json:"address"`
		DeviceID uint64 `json:"device_id"`
	} `json:"switches"` // by config name
}

// Rehearsal is a deployment's config built in network namespaces: its
// switches as distributors, each TM a namespace running `symdist tm`, a
// client and a server namespace, and the real controller on a copy of
// the config.
type Rehearsal struct {
	Opts       RehearseOptions
	Config     *config.Config // the copy the controller runs
	ConfigFile string         // where that copy is
	Controller *controller.Controller
	AdminURL   string
	Token      string
	TMs        []*RehearsalTM
	VIPs       []Virtual

	base    Lab // namespaces, veths, teardown
	mu      sync.Mutex
	running map[string]*exec.Cmd
	served  sync.Map // client "addr:port" -> the server's view of the connection's source
}

// RehearsalTM is one TM of the config in its namespace.
type RehearsalTM struct {
	Name, Group, NS string
	Mgmt            string // its management address
	HTTPPort        int    // /healthz, /stats
	SNAT            netip.Addr
	VIPs            []string // VIP:port it listens on
	Backend         string
}

// Virtual is a virtual address (a VIP) of a group, reached on port 80.
type Virtual struct {
	Addr  netip.Addr
	Group string
}

func (v Virtual) String() string { return netip.AddrPortFrom(v.Addr, rehearseVIPPort).String() }

// ClientNS and ServerNS name the host namespaces.
func (r *Rehearsal) ClientNS() string { return r.Opts.Prefix + "c" }
func (r *Rehearsal) ServerNS() string { return r.Opts.Prefix + "s" }

// Rehearse builds the deployment cfgFile describes. On error, what was
// built is taken down.
func Rehearse(opts RehearseOptions) (_ *Rehearsal, err error) {
	if why := Missing(); why != "" {
		return nil, fmt.Errorf("lab: %s", why)
	}
	cfg, err := config.Load(opts.Config)
	if err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Dir == "" {
		if opts.Dir, err = os.MkdirTemp("", "symdist-rehearse-"); err != nil {
			return nil, err
		}
	}
	r := &Rehearsal{Opts: opts, Config: cfg, running: map[string]*exec.Cmd{}}
	r.base = Lab{Opts: Options{Prefix: opts.Prefix}, ipv6: true}
	if err := r.plan(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			r.Down()
		}
	}()
	if opts.Attach != nil {
		err = r.attach()
	} else {
		err = r.network()
		if err == nil {
			err = r.startSwitches()
		}
	}
	if err != nil {
		return nil, err
	}
	if err := r.startServer(); err != nil {
		return nil, err
	}
	if err := r.startController(); err != nil {
		return nil, err
	}
	for _, t := range r.TMs {
		if err := r.StartTM(t.Name); err != nil {
			return nil, err
		}
	}
	if err := r.WaitReady(60 * time.Second); err != nil {
		return nil, err
	}
	return r, nil
}

// plan derives the TMs' namespaces, VIPs and backends from the config.
func (r *Rehearsal) plan() error {
	cfg := r.Config
	switch len(cfg.Switches) {
	case 1, 2:
	default:
		return fmt.Errorf("%s: the lab builds one or two distributors, the config has %d switches", r.Opts.Config, len(cfg.Switches))
	}
	if len(cfg.TMs) > 200 {
		return fmt.Errorf("%s: the lab builds up to 200 TMs, the config has %d", r.Opts.Config, len(cfg.TMs))
	}
	snats := map[string]map[netip.Addr]bool{} // group -> its TMs' SNAT addresses
	for _, t := range cfg.TMs {
		if snats[t.Group] == nil {
			snats[t.Group] = map[netip.Addr]bool{}
		}
		for _, s := range t.SNAT {
			snats[t.Group][netip.MustParseAddr(s)] = true
		}
	}
	// A VIP is the first address of each rule's destination that is no
	// SNAT address of the group (a host prefix: that address).
	for _, g := range cfg.Groups {
		seen := map[netip.Addr]bool{}
		for _, rule := range g.Rules {
			if rule.Dst == "" {
				continue
			}
			p, err := config.Prefix(rule.Dst)
			if err != nil {
				continue
			}
			a := p.Masked().Addr()
			if p.Bits() < a.BitLen() {
				a = a.Next()
			}
			if snats[g.Name][a] || seen[a] {
				continue
			}
			seen[a] = true
			r.VIPs = append(r.VIPs, Virtual{Addr: a, Group: g.Name})
		}
	}
	for i, t := range cfg.TMs {
		if len(t.SNAT) == 0 {
			return fmt.Errorf("%s: tm %s has no snat address: the lab's TMs source-NAT (symdist tm --snat)", r.Opts.Config, t.Name)
		}
		snat := netip.MustParseAddr(t.SNAT[0])
		backend := RehearseServer4
		if snat.Is6() {
			backend = RehearseServer6
		}
		rt := &RehearsalTM{Name: t.Name, Group: t.Group, NS: fmt.Sprintf("%st%d", r.Opts.Prefix, i+1),
			Mgmt: fmt.Sprintf("%s.%d", mgmtNet, 10+i), HTTPPort: healthPort(t.Health), SNAT: snat,
			Backend: net.JoinHostPort(backend, strconv.Itoa(rehearseServerPort))}
		for _, v := range r.VIPs {
			if v.Group == t.Group {
				rt.VIPs = append(rt.VIPs, v.String())
			}
		}
		if len(rt.VIPs) == 0 {
			return fmt.Errorf("%s: group %s of tm %s has no rule with a destination (a VIP) for the lab's clients to reach", r.Opts.Config, t.Group, t.Name)
		}
		r.TMs = append(r.TMs, rt)
	}
	return nil
}

// healthPort is the port of a tcp or http health check's target, else
// rehearseHTTPPort.
func healthPort(h config.Health) int {
	host := h.Target
	if u, err := url.Parse(h.Target); err == nil && u.Host != "" {
		host = u.Host
	}
	if _, p, err := net.SplitHostPort(host); err == nil {
		if n, err := strconv.Atoi(p); err == nil && n > 0 {
			return n
		}
	}
	return rehearseHTTPPort
}

// side names switch i's links: a (the client side), b (the server side).
func side(i int) string { return string(rune('a' + i)) }

func (r *Rehearsal) link(sw int, port uint16) string {
	return fmt.Sprintf("%s%s%d", r.Opts.Prefix, side(sw), port)
}

// legName is a TM's interface on switch sw in its namespace.
func legName(sw int) string { return fmt.Sprintf("sw%d", sw) }

// edge returns the (switch, port) of the client and of the server: the
// first edge port of the first and of the second switch, or the first two
// edge ports of a single switch.
func (r *Rehearsal) edges() (client, server [2]int, err error) {
	var found [][2]int
	for si, sw := range r.Config.Switches {
		for _, p := range sw.Ports {
			if p.Role == "edge" {
				found = append(found, [2]int{si, int(p.Port)})
				if len(r.Config.Switches) == 2 {
					break
				}
			}
		}
	}
	if len(found) < 2 || (len(r.Config.Switches) == 2 && found[1][0] != 1) {
		return client, server, fmt.Errorf("%s: the lab needs an edge port for the clients and one for the servers (the first edge port of each switch, or two on a single switch)", r.Opts.Config)
	}
	return found[0], found[1], nil
}

func (r *Rehearsal) network() error {
	b := &r.base
	client, server, err := r.edges()
	if err != nil {
		return err
	}
	if err := b.addNS(r.ClientNS()); err != nil {
		return err
	}
	if err := b.addNS(r.ServerNS()); err != nil {
		return err
	}
	if err := b.mgmtBridge(); err != nil {
		return err
	}
	for i, t := range r.TMs {
		if err := b.addNS(t.NS); err != nil {
			return err
		}
		if err := b.mgmtLeg(t.NS, fmt.Sprintf("%sm%d", r.Opts.Prefix, i+1), t.Mgmt); err != nil {
			return err
		}
	}
	peers := map[int]uint16{} // switch -> its first peer port
	for si, sw := range r.Config.Switches {
		for _, p := range sw.Ports {
			root := r.link(si, p.Port)
			switch {
			case si == client[0] && int(p.Port) == client[1]:
				err = b.veth(root, r.ClientNS(), "eth0", clientMAC)
			case si == server[0] && int(p.Port) == server[1]:
				err = b.veth(root, r.ServerNS(), "eth0", serverMAC)
			case p.Role == "peer" && peers[si] == 0:
				peers[si] = p.Port
				continue
			default:
				t, leg := r.tmOn(si, p.Port)
				if t == nil {
					err = b.loneVeth(root) // a port of the config the lab leaves empty
				} else {
					err = b.veth(root, t.NS, leg, r.Config.TM(t.Name).Ports[r.Config.Switches[si].Name].MAC)
				}
			}
			if err != nil {
				return err
			}
		}
	}
	switch {
	case len(peers) == 2:
		err = b.pairInRoot(r.link(0, peers[0]), r.link(1, peers[1]))
	case len(peers) == 1:
		for si, p := range peers {
			err = b.loneVeth(r.link(si, p))
		}
	}
	if err != nil {
		return err
	}
	return r.addresses()
}

// addresses addresses the hosts and the TMs.
func (r *Rehearsal) addresses() error {
	if err := r.hosts(); err != nil {
		return err
	}
	for _, t := range r.TMs {
		if err := r.tmNetwork(t); err != nil {
			return err
		}
	}
	return nil
}

// attach names the attached hosts' namespaces as the lab's (ip netns
// attach), gives the TMs their management legs, addresses everything and
// points the config at the attached switches.
func (r *Rehearsal) attach() error {
	b := &r.base
	a := r.Opts.Attach
	names := map[string]string{"client": r.ClientNS(), "server": r.ServerNS()}
	for _, t := range r.TMs {
		names[t.Name] = t.NS
	}
	for host, ns := range names {
		pid, ok := a.Hosts[host]
		if !ok {
			return fmt.Errorf("attach: no host %q", host)
		}
		_ = sh("ip", "netns", "del", ns)
		if err := sh("ip", "netns", "attach", ns, strconv.Itoa(pid)); err != nil {
			return err
		}
		b.undo = append(b.undo, func() { _ = sh("ip", "netns", "del", ns) })
	}
	// The MACs the TMs' static neighbour entries name.
	if err := inNS(r.ClientNS(), "ip", "link", "set", "eth0", "address", clientMAC); err != nil {
		return err
	}
	if err := inNS(r.ServerNS(), "ip", "link", "set", "eth0", "address", serverMAC); err != nil {
		return err
	}
	if err := b.mgmtBridge(); err != nil {
		return err
	}
	for i, t := range r.TMs {
		if err := b.mgmtLeg(t.NS, fmt.Sprintf("%sm%d", r.Opts.Prefix, i+1), t.Mgmt); err != nil {
			return err
		}
	}
	for si := range r.Config.Switches {
		s := &r.Config.Switches[si]
		at, ok := a.Switches[s.Name]
		if !ok {
			return fmt.Errorf("attach: no switch %q", s.Name)
		}
		s.Address, s.DeviceID, s.TLS, s.Target, s.Tofino, s.P4Info, s.JSON = at.Address, at.DeviceID, nil, "", nil, "", ""
	}
	return r.addresses()
}

// tmOn is the TM on port of switch si and its interface name.
func (r *Rehearsal) tmOn(si int, port uint16) (*RehearsalTM, string) {
	name := r.Config.Switches[si].Name
	for _, t := range r.TMs {
		if p, ok := r.Config.TM(t.Name).Ports[name]; ok && p.Port == port {
			return t, legName(si)
		}
	}
	return nil, ""
}

// hosts addresses the client and server namespaces. Their neighbours are
// static: the distributors rewrite the destination MAC of classified
// packets to the chosen TM's, so any TM's MAC will do for a VIP or an
// SNAT address (and a VIP on a TM's loopback answers no IPv6 ND).
func (r *Rehearsal) hosts() error {
	anyTMMAC := func(sw int) string {
		for _, t := range r.Config.TMs {
			if p, ok := t.Ports[r.Config.Switches[sw].Name]; ok {
				return p.MAC
			}
		}
		return ""
	}
	client, server, _ := r.edges()
	var cmds [][]string
	for _, a := range RehearseClients4 {
		cmds = append(cmds, []string{"ip", "addr", "add", a + "/24", "dev", "eth0"})
	}
	for _, a := range RehearseClients6 {
		cmds = append(cmds, []string{"ip", "-6", "addr", "add", a + "/64", "dev", "eth0", "nodad"})
	}
	for _, v := range r.VIPs {
		cmds = append(cmds,
			[]string{"ip", "route", "add", v.Addr.String(), "dev", "eth0"},
			[]string{"ip", "neigh", "replace", v.Addr.String(), "lladdr", anyTMMAC(client[0]), "dev", "eth0", "nud", "permanent"})
	}
	if err := runAll(r.ClientNS(), cmds); err != nil {
		return err
	}
	cmds = [][]string{
		{"ip", "addr", "add", RehearseServer4 + "/24", "dev", "eth0"},
		{"ip", "-6", "addr", "add", RehearseServer6 + "/64", "dev", "eth0", "nodad"},
	}
	snats := map[netip.Addr]bool{}
	for _, t := range r.TMs {
		if !snats[t.SNAT] {
			snats[t.SNAT] = true
			cmds = append(cmds,
				[]string{"ip", "route", "add", t.SNAT.String(), "dev", "eth0"},
				[]string{"ip", "neigh", "replace", t.SNAT.String(), "lladdr", anyTMMAC(server[0]), "dev", "eth0", "nud", "permanent"})
		}
	}
	return runAll(r.ServerNS(), cmds)
}

// tmNetwork addresses a TM's namespace: its VIPs and SNAT address on
// loopback, its config addresses on its client-side leg, routes to the
// clients through that leg and to the servers through its server-side
// one, from its SNAT address.
func (r *Rehearsal) tmNetwork(t *RehearsalTM) error {
	client, server, _ := r.edges()
	cfgTM := r.Config.TM(t.Name)
	cleg, sleg := "", ""
	if _, ok := cfgTM.Ports[r.Config.Switches[client[0]].Name]; ok {
		cleg = legName(client[0])
	}
	if _, ok := cfgTM.Ports[r.Config.Switches[server[0]].Name]; ok {
		sleg = legName(server[0])
	}
	if cleg == "" || sleg == "" {
		return fmt.Errorf("%s: tm %s needs a port on the client side (%s) and the server side (%s) for the lab to reach it",
			r.Opts.Config, t.Name, r.Config.Switches[client[0]].Name, r.Config.Switches[server[0]].Name)
	}
	host := func(a netip.Addr) string { return netip.PrefixFrom(a, a.BitLen()).String() }
	if err := setSysctl(t.NS, "net/ipv4/conf/all/rp_filter", "0"); err != nil {
		return err
	}
	cmds := [][]string{
		{"ip", "addr", "add", host(t.SNAT), "dev", "lo"},
	}
	for _, v := range r.VIPs {
		if v.Group == t.Group {
			cmds = append(cmds, []string{"ip", "addr", "add", host(v.Addr), "dev", "lo"})
		}
	}
	for _, a := range cfgTM.Addresses {
		cmds = append(cmds, []string{"ip", "addr", "add", host(netip.MustParseAddr(a)), "dev", cleg, "nodad"})
	}
	cmds = append(cmds,
		[]string{"ip", "route", "add", "198.51.100.0/24", "dev", cleg},
		[]string{"ip", "-6", "route", "add", "2001:db8:c::/64", "dev", cleg})
	for _, a := range append(append([]string{}, RehearseClients4...), RehearseClients6...) {
		cmds = append(cmds, []string{"ip", "neigh", "replace", a, "lladdr", clientMAC, "dev", cleg, "nud", "permanent"})
	}
	server4, server6 := []string{"ip", "route", "add", RehearseServer4 + "/32", "dev", sleg}, []string{"ip", "-6", "route", "add", RehearseServer6 + "/128", "dev", sleg}
	if t.SNAT.Is4() {
		server4 = append(server4, "src", t.SNAT.String())
	} else {
		server6 = append(server6, "src", t.SNAT.String())
	}
	cmds = append(cmds, server4, server6,
		[]string{"ip", "neigh", "replace", RehearseServer4, "lladdr", serverMAC, "dev", sleg, "nud", "permanent"},
		[]string{"ip", "neigh", "replace", RehearseServer6, "lladdr", serverMAC, "dev", sleg, "nud", "permanent"})
	return runAll(t.NS, cmds)
}

func runAll(ns string, cmds [][]string) error {
	for _, c := range cmds {
		if err := inNS(ns, c...); err != nil {
			return err
		}
	}
	return nil
}

func (r *Rehearsal) startSwitches() error {
	for si, sw := range r.Config.Switches {
		var pairs []ifswitch.Port
		for _, p := range sw.Ports {
			pairs = append(pairs, ifswitch.Port{Number: p.Port, Interface: r.link(si, p.Port)})
		}
		t, err := startSwitch(r.Opts.Switch, pairs, filepath.Join(r.Opts.Dir, "bmv2-"+sw.Name))
		if err != nil {
			return fmt.Errorf("switch %s: %w", sw.Name, err)
		}
		r.base.undo = append(r.base.undo, t.Stop)
		// The copy the controller runs: the lab's switch, its own pipeline.
		s := &r.Config.Switches[si]
		s.Address, s.DeviceID, s.TLS, s.Target, s.Tofino, s.P4Info, s.JSON = t.Addr, t.DeviceID, nil, "", nil, "", ""
	}
	return nil
}

// startServer serves HTTP on both server addresses; it answers with its
// counter and remembers the source each client connection arrived from
// (the client names itself in X-Client).
func (r *Rehearsal) startServer() error {
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if c := req.Header.Get("X-Client"); c != "" {
			r.served.Store(c, req.RemoteAddr)
		}
		fmt.Fprintf(w, "hello %s\n", req.URL.Path)
	})}
	for _, a := range []string{RehearseServer4, RehearseServer6} {
		ln, err := ListenTCP(r.ServerNS(), net.JoinHostPort(a, strconv.Itoa(rehearseServerPort)))
		if err != nil {
			return err
		}
		go srv.Serve(ln)
	}
	r.base.undo = append(r.base.undo, func() { srv.Close() })
	return nil
}

// edgeHostsL2 adds the client's and the server's MACs to the l2 entries of
// the switches they are on (unless the config names those MACs already), as
// an operator adds the routers': without them every frame a TM sends to
// them is flooded to every port, which multiplies what the switches carry.
func (r *Rehearsal) edgeHostsL2(cfg *config.Config) error {
	client, server, err := r.edges()
	if err != nil {
		return err
	}
	for _, h := range []struct {
		at  [2]int
		mac string
	}{{client, clientMAC}, {server, serverMAC}} {
		sw := &cfg.Switches[h.at[0]]
		if !slices.ContainsFunc(sw.L2, func(e config.L2Entry) bool { return strings.EqualFold(e.MAC, h.mac) }) {
			sw.L2 = append(sw.L2, config.L2Entry{MAC: h.mac, Port: uint16(h.at[1])})
		}
	}
	return nil
}

// startController rewrites the config (switch addresses, admin API on the
// management bridge with a token, health checks to the TMs' management
// addresses), writes the copy and runs the controller on it.
func (r *Rehearsal) startController() error {
	var ln net.Listener
	var err error
	if r.Token, ln, err = adminListener(); err != nil {
		return err
	}
	cfg := r.Config
	cfg.Admin = config.Admin{Listen: ln.Addr().String(), Token: r.Token}
	if err := r.edgeHostsL2(cfg); err != nil {
		ln.Close()
		return err
	}
	for i, t := range r.TMs {
		h := &cfg.TMs[i].Health
		switch h.Type {
		case "tcp":
			h.Target = net.JoinHostPort(t.Mgmt, strconv.Itoa(t.HTTPPort))
		case "http":
			u, _ := url.Parse(h.Target)
			h.Target = fmt.Sprintf("http://%s%s", net.JoinHostPort(t.Mgmt, strconv.Itoa(t.HTTPPort)), u.Path)
		}
	}
	text, err := yaml.Marshal(cfg)
	if err == nil {
		r.ConfigFile = filepath.Join(r.Opts.Dir, "controller.yaml")
		err = os.WriteFile(r.ConfigFile, text, 0o600)
	}
	if err == nil {
		// The controller runs the copy as read back: what an operator
		// would apply to it is what it runs.
		r.Config, err = config.Load(r.ConfigFile)
	}
	if err == nil {
		r.Controller, err = controller.New(r.Config, r.Opts.Log)
	}
	if err != nil {
		ln.Close()
		return err
	}
	r.AdminURL = "http://" + ln.Addr().String()
	r.base.runController(r.Controller, ln)
	return nil
}

// TM returns the named TM, or nil.
func (r *Rehearsal) TM(name string) *RehearsalTM {
	for _, t := range r.TMs {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// StartTM starts `symdist tm` for a TM of the config in its namespace.
func (r *Rehearsal) StartTM(name string) error {
	t := r.TM(name)
	if t == nil {
		return fmt.Errorf("no tm %q", name)
	}
	logf, err := os.OpenFile(filepath.Join(r.Opts.Dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", t.NS, r.Opts.Binary, "tm",
		"--name", name, "--snat", t.SNAT.String(), "--backend", t.Backend,
		"--controller", r.AdminURL, "--token", r.Token,
		"--http", net.JoinHostPort("0.0.0.0", strconv.Itoa(t.HTTPPort)),
		// 3 s as in mininet/run.py: a backend SYN that a loaded bmv2
		// drops is resent after 1 s, and that resend must be able to count.
		"--connect-timeout", "3s", "--grace", "1s", "--watch", "--hold", rehearseHold.String(),
		fmt.Sprintf("--chain=%v", !r.Opts.NoChain))
	for _, v := range t.VIPs {
		cmd.Args = append(cmd.Args, "--listen", v)
	}
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	r.mu.Lock()
	r.running[name] = cmd
	r.mu.Unlock()
	go func() { cmd.Wait(); logf.Close() }()
	return nil
}

// StopTM kills a TM's process (as a crash would) and waits until its
// /stats is gone.
func (r *Rehearsal) StopTM(name string) {
	r.mu.Lock()
	cmd := r.running[name]
	delete(r.running, name)
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := r.TMStats(name); err != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Running says whether a TM's process was started and not stopped.
func (r *Rehearsal) Running(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[name] != nil
}

// Down takes everything down, in reverse order.
func (r *Rehearsal) Down() {
	for _, t := range r.TMs {
		r.StopTM(t.Name)
	}
	r.base.Down()
}

// Guide tells a person how to use the running rehearsal.
func (r *Rehearsal) Guide() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is up in the lab (distributors: %s switch).\n\n", r.Opts.Config, r.Opts.Switch)
	fmt.Fprintf(&b, "  client namespace   %s  (%s-%d, %s-%d)\n", r.ClientNS(), RehearseClients4[0], len(RehearseClients4), RehearseClients6[0], len(RehearseClients6))
	for _, v := range r.VIPs {
		fmt.Fprintf(&b, "    try: ip netns exec %s curl -g http://%s/   (group %s)\n", r.ClientNS(), v, v.Group)
	}
	fmt.Fprintf(&b, "  server namespace   %s  (%s, %s, port %d)\n", r.ServerNS(), RehearseServer4, RehearseServer6, rehearseServerPort)
	for _, t := range r.TMs {
		fmt.Fprintf(&b, "  %-18s namespace %s, group %s, SNAT %s, stats: curl http://%s/stats\n", t.Name, t.NS, t.Group, t.SNAT,
			net.JoinHostPort(t.Mgmt, strconv.Itoa(t.HTTPPort)))
	}
	fmt.Fprintf(&b, `  controller admin   %[1]s  (token %[2]s)
                     symdist status --watch --controller %[1]s --token %[2]s
                     in a browser: %[1]s/ (it asks for the token)
  its config         %[3]s
  rehearse a change  edit a copy of it, then: symdist config plan COPY --controller %[1]s --token %[2]s
                     (and config apply); drain: curl -XPOST -H 'Authorization: Bearer %[2]s' %[1]s/api/tms/NAME/drain
  logs               %[4]s

Ctrl-C takes it down.
`, r.AdminURL, r.Token, r.ConfigFile, r.Opts.Dir)
	return b.String()
}
