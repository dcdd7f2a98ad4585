// SPDX-License-Identifier: Apache-2.0

// Package lab builds the patent's figure 3 on one machine with network
// namespaces: a client, a client-side distributor, three TMs running
// `symdist tm` that all source-NAT to ONE shared address, a server-side
// distributor, an HTTP server, and the controller. The distributors are
// software switches, or bmv2 where installed. `symdist lab` starts it for
// people; lab_test.go drives it.
package lab

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/symdist/symdist/internal/ifswitch"

	"github.com/symdist/symdist/controller"
)

// Addresses of the lab.
const (
	VIP        = "10.0.0.100"
	SNAT       = "10.3.0.1"
	ServerAddr = "10.2.0.10"
	ServerPort = 8080
	Clients    = 4 // addresses 10.1.0.1 .. 10.1.0.4 in the client namespace
	NumTMs     = 3
	mgmtNet    = "198.18.0" // the root namespace's management bridge, .1
)

// Options of a lab.
type Options struct {
	Prefix    string // of namespace and link names, e.g. "sd"
	Binary    string // the symdist binary the TMs run
	Switch    string // "soft" or "bmv2"
	SelfPorts bool   // TMs use self-source ports (false: the kernel picks: the control run)
	// Chain runs the TMs with chaining (symdist tm --chain). Off by
	// default here: the figure-3 lab's tests measure self-source ports on
	// their own, and chaining would rescue connections their control runs
	// must lose. The rehearsal (RehearseOptions) chains by default.
	Chain bool
	// NoHandover runs without the handover (the control run of the
	// handover test): the controller writes the switches at once
	// (handover_timeout 0) and TMs poll their table every second and fail
	// a connection that finds no self port, as before issue 10.
	NoHandover bool
	// Join is a TM (1-NumTMs) that Up does not start: it joins later
	// (StartTM). 0: every TM starts.
	Join int
	Dir  string // logs
	Log  *slog.Logger
}

// Lab is a running figure-3 deployment.
type Lab struct {
	Opts        Options
	Controller  *controller.Controller
	AdminURL    string
	Token       string
	Requests    atomic.Int64 // served by the HTTP server
	srcPorts    sync.Map     // source port -> true, as the server saw them
	tms         map[string]*exec.Cmd
	switchAddrs []string // client side, server side
	undo        []func()
	ipv6        bool // veth leaves IPv6 on (a rehearsal's namespaces)
	cancel      context.CancelFunc
	wg          sync.WaitGroup
}

func (o Options) ns(name string) string { return o.Prefix + name }

// The client's and the server's MACs, in the switches' l2 entries.
const (
	clientMAC = "02:00:00:00:c1:01"
	serverMAC = "02:00:00:00:5e:01"
)

// ClientNS, ServerNS and TMNS name the namespaces.
func (l *Lab) ClientNS() string     { return l.Opts.ns("c") }
func (l *Lab) ServerNS() string     { return l.Opts.ns("s") }
func (l *Lab) TMNS(i int) string    { return l.Opts.ns(fmt.Sprintf("t%d", i)) }
func tmName(i int) string           { return fmt.Sprintf("tm%d", i) }
func tmMgmt(i int) string           { return fmt.Sprintf("%s.%d", mgmtNet, 10+i) }
func tmMAC(side, i int) string      { return fmt.Sprintf("02:00:00:00:0%d:0%d", side, i) }
func (l *Lab) link(s string) string { return l.Opts.Prefix + s }

// Up builds the lab. On error, what was built is taken down.
func Up(opts Options) (_ *Lab, err error) {
	if why := Missing(); why != "" {
		return nil, fmt.Errorf("lab: %s", why)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Dir == "" {
		if opts.Dir, err = os.MkdirTemp("", "symdist-lab-"); err != nil {
			return nil, err
		}
	}
	l := &Lab{Opts: opts, tms: map[string]*exec.Cmd{}}
	defer func() {
		if err != nil {
			l.Down()
		}
	}()
	if err := l.network(); err != nil {
		return nil, err
	}
	if err := l.startSwitches(); err != nil {
		return nil, err
	}
	if err := l.startServer(); err != nil {
		return nil, err
	}
	if err := l.startController(); err != nil {
		return nil, err
	}
	for i := 1; i <= NumTMs; i++ {
		if i == opts.Join {
			continue
		}
		if err := l.StartTM(i, opts.SelfPorts); err != nil {
			return nil, err
		}
	}
	if err := l.WaitReady(30 * time.Second); err != nil {
		return nil, err
	}
	return l, nil
}

// Down takes everything down, in reverse order.
func (l *Lab) Down() {
	for name := range l.tms {
		l.StopTM(name)
	}
	if l.cancel != nil {
		l.cancel()
		l.wg.Wait()
	}
	for i := len(l.undo) - 1; i >= 0; i-- {
		l.undo[i]()
	}
	l.undo = nil
}

func (l *Lab) addNS(ns string) error {
	_ = sh("ip", "netns", "del", ns) // left over from a killed run
	if err := sh("ip", "netns", "add", ns); err != nil {
		return err
	}
	l.undo = append(l.undo, func() { _ = sh("ip", "netns", "del", ns) })
	return inNS(ns, "ip", "link", "set", "lo", "up")
}

// veth makes a pair with one end (rootName) in the root namespace and the
// other (nsName) in ns, with a MAC if given, IPv6 off (unless l.ipv6), both up.
func (l *Lab) veth(rootName, ns, nsName, mac string) error {
	_ = sh("ip", "link", "del", rootName)
	if err := sh("ip", "link", "add", rootName, "type", "veth", "peer", "name", nsName, "netns", ns); err != nil {
		return err
	}
	l.undo = append(l.undo, func() { _ = sh("ip", "link", "del", rootName) })
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+rootName+"/disable_ipv6", []byte("1"), 0o644)
	if !l.ipv6 {
		_ = setSysctl(ns, "net/ipv6/conf/"+nsName+"/disable_ipv6", "1")
	}
	if mac != "" {
		if err := inNS(ns, "ip", "link", "set", nsName, "address", mac); err != nil {
			return err
		}
	}
	if err := disableTxChecksum(ns, nsName); err != nil {
		return err
	}
	if err := sh("ip", "link", "set", rootName, "up"); err != nil {
		return err
	}
	return inNS(ns, "ip", "link", "set", nsName, "up")
}

func (l *Lab) network() error {
	for _, ns := range []string{l.ClientNS(), l.ServerNS()} {
		if err := l.addNS(ns); err != nil {
			return err
		}
	}
	if err := l.mgmtBridge(); err != nil {
		return err
	}
	// Client: port 1 of the client-side switch.
	if err := l.veth(l.link("a1"), l.ClientNS(), "eth0", clientMAC); err != nil {
		return err
	}
	for i := 1; i <= Clients; i++ {
		if err := inNS(l.ClientNS(), "ip", "addr", "add", fmt.Sprintf("10.1.0.%d/8", i), "dev", "eth0"); err != nil {
			return err
		}
	}
	// Server: port 1 of the server-side switch; the SNAT address is on-link.
	if err := l.veth(l.link("b1"), l.ServerNS(), "eth0", serverMAC); err != nil {
		return err
	}
	for _, c := range [][]string{
		{"ip", "addr", "add", ServerAddr + "/16", "dev", "eth0"},
		{"ip", "route", "add", "10.3.0.0/16", "dev", "eth0"},
	} {
		if err := inNS(l.ServerNS(), c...); err != nil {
			return err
		}
	}
	// TMs: a leg on each switch (ports 2-4) and one on the management bridge.
	for i := 1; i <= NumTMs; i++ {
		ns := l.TMNS(i)
		if err := l.addNS(ns); err != nil {
			return err
		}
		if err := l.veth(l.link(fmt.Sprintf("a%d", i+1)), ns, "cli0", tmMAC(1, i)); err != nil {
			return err
		}
		if err := l.veth(l.link(fmt.Sprintf("b%d", i+1)), ns, "srv0", tmMAC(2, i)); err != nil {
			return err
		}
		if err := l.mgmtLeg(ns, l.link(fmt.Sprintf("m%d", i)), tmMgmt(i)); err != nil {
			return err
		}
		for _, c := range [][]string{
			{"ip", "addr", "add", fmt.Sprintf("10.0.1.%d/8", i), "dev", "cli0"},
			{"ip", "addr", "add", VIP + "/32", "dev", "lo"},
			{"ip", "addr", "add", SNAT + "/16", "dev", "srv0"},
			{"ip", "route", "add", "10.2.0.0/16", "dev", "srv0", "src", SNAT},
		} {
			if err := inNS(ns, c...); err != nil {
				return err
			}
		}
		if err := setSysctl(ns, "net/ipv4/conf/all/rp_filter", "0"); err != nil {
			return err
		}
	}
	// The direct link between the distributors (port 5 of each).
	return l.pairInRoot(l.link("a5"), l.link("b5"))
}

func (l *Lab) startSwitches() error {
	for _, side := range []string{"a", "b"} {
		var pairs []ifswitch.Port
		for p := 1; p <= 5; p++ {
			pairs = append(pairs, ifswitch.Port{Number: uint16(p), Interface: l.link(fmt.Sprintf("%s%d", side, p))})
		}
		t, err := startSwitch(l.Opts.Switch, pairs, filepath.Join(l.Opts.Dir, "bmv2-"+side))
		if err != nil {
			return err
		}
		l.undo = append(l.undo, t.Stop)
		l.switchAddrs = append(l.switchAddrs, t.Addr)
	}
	return nil
}

// startSwitch starts a distributor on pairs: bmv2 (logging in bmv2Dir) or
// the software switch.
func startSwitch(kind string, pairs []ifswitch.Port, bmv2Dir string) (*ifswitch.Switch, error) {
	if kind != "bmv2" {
		return ifswitch.StartSoft(pairs)
	}
	if err := os.MkdirAll(bmv2Dir, 0o755); err != nil {
		return nil, err
	}
	return ifswitch.StartBMv2(pairs, bmv2Dir)
}
