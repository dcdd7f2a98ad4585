// SPDX-License-Identifier: Apache-2.0

// Package demo runs symdist end to end in one process, with no root and no
// bmv2: two software switches (client side and server side, the patent's
// figure 3) on loopback gRPC, the real controller programming them, TMs
// whose health checks the demo can fail, and synthetic flows sent both ways.
//
// The controller runs a built-in config of 3 groups (IPv4 TCP, UDP, IPv6)
// and 9 TMs. `symdist demo` (`make demo`) runs it and prints the load per
// TM and the flows moved against the ideal; --json for machines.
// demo_test.go runs it and checks its verdict.
package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/controller"
	"github.com/symdist/symdist/swswitch"
)

// Port numbering on both switches: 1 is the edge, TMs from 2, peer last.
const edgePort = 1

// groupSpec is one of the demo's built-in groups.
type groupSpec struct {
	name    string
	id      uint16
	tms     int
	weights []int
	rule    string // YAML flow mapping of its classification rule
	ipv6    bool
	udp     bool
}

var groups = []groupSpec{
	{name: "web", id: 1, tms: 4, weights: []int{1, 1, 1, 1}, rule: "{priority: 10, ip_version: 4, dst: 10.0.0.100/32}"},
	{name: "dns", id: 2, tms: 2, weights: []int{1, 1}, rule: "{priority: 10, ip_version: 4, dst: 10.0.0.53/32}", udp: true},
	{name: "web6", id: 3, tms: 3, weights: []int{2, 1, 1}, rule: "{priority: 10, ip_version: 6, dst: 2001:db8::100/128}", ipv6: true},
}

// softSwitch is one in-process software switch with pipe ports.
type softSwitch struct {
	name  string
	addr  string
	sw    *swswitch.Served
	mu    sync.Mutex
	last  []uint16 // ports the last frame left by
	ports map[uint16]*swswitch.PipePort
}

// send runs one frame in by port and returns the ports it left by.
func (s *softSwitch) send(port uint16, frame []byte) []uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = s.last[:0]
	s.sw.Receive(port, frame)
	return append([]uint16(nil), s.last...)
}

// Deployment is the running demo: two software switches, the controller
// and the TMs' health endpoints, in this process (not the lab's namespaces).
type Deployment struct {
	Config     *config.Config
	Controller *controller.Controller
	client     *softSwitch
	server     *softSwitch
	health     map[string]*healthServer // by TM name
	tmPort     map[uint16]string        // switch port -> TM name (same on both switches)
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// healthServer is a TM's health endpoint: a TCP listener the demo can stop
// and start again on the same address.
type healthServer struct {
	addr string
	mu   sync.Mutex
	ln   net.Listener
}

func (h *healthServer) start() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	addr := h.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	h.ln, h.addr = ln, ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return nil
}

func (h *healthServer) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ln != nil {
		h.ln.Close()
		h.ln = nil
	}
}

func newSoftSwitch(name string, deviceID uint64, nports int, log *slog.Logger) (*softSwitch, error) {
	s := &softSwitch{name: name, ports: map[uint16]*swswitch.PipePort{}}
	ports := map[uint16]swswitch.Port{}
	for n := uint16(1); n <= uint16(nports); n++ {
		n := n
		p := swswitch.NewPipePort(func([]byte) { s.last = append(s.last, n) })
		s.ports[n], ports[n] = p, p
	}
	sw, err := swswitch.Listen(swswitch.Config{DeviceID: deviceID, Ports: ports, Log: log})
	if err != nil {
		return nil, err
	}
	s.sw, s.addr = sw, sw.Addr()
	return s, nil
}

// buildConfig writes the demo's config as YAML, so it goes through the
// same parser and checks as a user's.
func buildConfig(clientAddr, serverAddr string, health map[string]*healthServer) (string, map[uint16]string) {
	var b strings.Builder
	tmPort := map[uint16]string{}
	nTMs := 0
	for _, g := range groups {
		nTMs += g.tms
	}
	peer := nTMs + 2
	fmt.Fprintf(&b, "election_id: 1\nadmin: {listen: \"127.0.0.1:0\"}\nswitches:\n")
	for i, sw := range []struct{ name, addr string }{{"client-side", clientAddr}, {"server-side", serverAddr}} {
		fmt.Fprintf(&b, "  - name: %s\n    address: %q\n    device_id: %d\n    ports:\n      - {port: %d, role: edge}\n", sw.name, sw.addr, i+1, edgePort)
		for p := 2; p < peer; p++ {
			fmt.Fprintf(&b, "      - {port: %d, role: tm}\n", p)
		}
		fmt.Fprintf(&b, "      - {port: %d, role: peer}\n", peer)
	}
	b.WriteString("groups:\n")
	for _, g := range groups {
		fmt.Fprintf(&b, "  - {name: %s, id: %d, default_tm: %s-1, rules: [%s]}\n", g.name, g.id, g.name, g.rule)
	}
	b.WriteString("tms:\n")
	port := 2
	id := 1
	for _, g := range groups {
		for i := 1; i <= g.tms; i++ {
			name := fmt.Sprintf("%s-%d", g.name, i)
			tmPort[uint16(port)] = name
			fmt.Fprintf(&b, "  - name: %s\n    id: %d\n    group: %s\n    weight: %d\n    ports:\n", name, id, g.name, g.weights[i-1])
			fmt.Fprintf(&b, "      client-side: {port: %d, mac: \"02:00:00:00:01:%02x\"}\n", port, id)
			fmt.Fprintf(&b, "      server-side: {port: %d, mac: \"02:00:00:00:02:%02x\"}\n", port, id)
			fmt.Fprintf(&b, "    health: {type: tcp, target: %q, interval: 100ms, timeout: 80ms, rise: 2, fall: 2}\n", health[name].addr)
			port++
			id++
		}
	}
	return b.String(), tmPort
}

// Start brings the lab up: switches, TM health endpoints, controller.
func Start(log *slog.Logger) (*Deployment, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	l := &Deployment{health: map[string]*healthServer{}}
	nTMs := 0
	for _, g := range groups {
		nTMs += g.tms
		for i := 1; i <= g.tms; i++ {
			h := &healthServer{}
			if err := h.start(); err != nil {
				return nil, err
			}
			l.health[fmt.Sprintf("%s-%d", g.name, i)] = h
		}
	}
	var err error
	if l.client, err = newSoftSwitch("client-side", 1, nTMs+2, log); err != nil {
		return nil, err
	}
	if l.server, err = newSoftSwitch("server-side", 2, nTMs+2, log); err != nil {
		return nil, err
	}
	text, tmPort := buildConfig(l.client.addr, l.server.addr, l.health)
	l.tmPort = tmPort
	if l.Config, err = config.Parse("demo config", []byte(text)); err != nil {
		return nil, err
	}
	if l.Controller, err = controller.New(l.Config, log); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.Controller.Run(ctx)
	}()
	return l, nil
}

// Stop ends everything.
func (l *Deployment) Stop() {
	l.cancel()
	l.wg.Wait()
	for _, s := range []*softSwitch{l.client, l.server} {
		s.sw.Stop()
	}
	for _, h := range l.health {
		h.stop()
	}
}

// InSync reports whether both switches hold the controller's state.
func (l *Deployment) InSync() bool {
	for _, s := range l.Controller.Status().Switches {
		if !s.InSync {
			return false
		}
	}
	return true
}

// FailTM stops a TM's health endpoint; RecoverTM starts it again.
func (l *Deployment) FailTM(name string) { l.health[name].stop() }

// RecoverTM starts a failed TM's health endpoint again.
func (l *Deployment) RecoverTM(name string) error { return l.health[name].start() }

// TMUp reports the controller's view of a TM.
func (l *Deployment) TMUp(name string) bool {
	for _, g := range l.Controller.Status().Groups {
		for _, t := range g.TMs {
			if t.Name == name {
				return t.Healthy && !t.Drained
			}
		}
	}
	return false
}
