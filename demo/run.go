// SPDX-License-Identifier: Apache-2.0

package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/symdist/symdist/vectors"
)

// flow is one synthetic client connection of a group.
type flow struct {
	group      string
	proto      layers.IPProtocol
	client     netip.Addr
	clientPort uint16
	vip        netip.Addr
	vipPort    uint16
}

func makeFlows(perGroup int) []flow {
	var fs []flow
	for _, g := range groups {
		vip, port := netip.MustParseAddr("10.0.0.100"), uint16(80)
		proto := layers.IPProtocolTCP
		switch {
		case g.udp:
			vip, port, proto = netip.MustParseAddr("10.0.0.53"), 53, layers.IPProtocolUDP
		case g.ipv6:
			vip, port = netip.MustParseAddr("2001:db8::100"), 443
		}
		for i := 0; i < perGroup; i++ {
			var client netip.Addr
			if g.ipv6 {
				client = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 1, 14: byte(i >> 8), 15: byte(i)})
			} else {
				client = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
			}
			// Ephemeral ports as Linux picks them.
			fs = append(fs, flow{g.name, proto, client, uint16(32768 + (i*7919)%28232), vip, port})
		}
	}
	return fs
}

// Round is one pass of every flow, both directions.
type Round struct {
	Name       string         `json:"name"`
	Flows      int            `json:"flows"`
	Symmetric  int            `json:"symmetric"` // reply reached the request's TM
	PerTM      map[string]int `json:"flows_per_tm"`
	Moved      int            `json:"moved"`                 // flows whose TM changed since the round before
	IdealMoved int            `json:"ideal_moved,omitempty"` // what a perfect scheme must move
	MovedOff   int            `json:"moved_between_survivors"`
	Reprogram  string         `json:"reprogram_time,omitempty"`
	assignment []string
}

// sendAll sends every flow's request through the client side and its reply
// through the server side, showing progress on w.
func (l *Deployment) sendAll(name string, fs []flow, p *progress) Round {
	r := Round{Name: name, Flows: len(fs), PerTM: map[string]int{}, assignment: make([]string, len(fs))}
	for i, f := range fs {
		req := l.client.send(edgePort, vectors.Flow(f.proto, f.client, f.clientPort, f.vip, f.vipPort, []byte("hello")))
		rep := l.server.send(edgePort, vectors.Flow(f.proto, f.vip, f.vipPort, f.client, f.clientPort, []byte("hi")))
		tm := ""
		if len(req) == 1 {
			tm = l.tmPort[req[0]]
		}
		if len(rep) == 1 && len(req) == 1 && req[0] == rep[0] && tm != "" {
			r.Symmetric++
		}
		r.PerTM[tm]++
		r.assignment[i] = tm
		p.step(name, i+1, len(fs))
	}
	return r
}

// Report is the demo's result.
type Report struct {
	Rounds   []Round `json:"rounds"`
	FailedTM string  `json:"failed_tm"`
	OK       bool    `json:"ok"`
}

// progress draws a one-line progress bar on a terminal, or nothing.
type progress struct {
	w    io.Writer
	last time.Time
}

func (p *progress) step(what string, i, n int) {
	if p.w == nil || (i < n && time.Since(p.last) < 50*time.Millisecond) {
		return
	}
	p.last = time.Now()
	const width = 30
	done := width * i / n
	fmt.Fprintf(p.w, "\r  %-28s [%s%s] %d/%d", what, strings.Repeat("#", done), strings.Repeat(".", width-done), i, n)
	if i == n {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) wait(what string, cond func() bool, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	spin := `|/-\`
	for i := 0; !cond(); i++ {
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		}
		if p.w != nil && i%5 == 0 {
			fmt.Fprintf(p.w, "\r  %s %c", what, spin[(i/5)%4])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if p.w != nil {
		fmt.Fprintf(p.w, "\r  %s: done in %v\n", what, time.Since(start).Round(time.Millisecond))
	}
	return time.Since(start), nil
}

// Run plays the demo: programming, load per TM, a TM failure and its
// return. Human output goes to out (progress to progressOut, may be nil);
// with asJSON, out gets the JSON report instead.
func Run(out, progressOut io.Writer, perGroup int, asJSON bool) (*Report, error) {
	l, err := Start(nil)
	if err != nil {
		return nil, err
	}
	defer l.Stop()
	p := &progress{w: progressOut}
	say := func(format string, args ...any) {
		if !asJSON {
			fmt.Fprintf(out, format, args...)
		}
	}
	say("symdist demo: two software switches (client side, server side), %d TMs in %d groups, the controller over P4Runtime\n\n", len(l.Config.TMs), len(l.Config.Groups))
	if _, err := p.wait("controller programming both switches", l.InSync, 30*time.Second); err != nil {
		return nil, err
	}
	fs := makeFlows(perGroup)
	rep := &Report{FailedTM: "web-2"}

	base := l.sendAll("baseline: every flow, both ways", fs, p)
	rep.Rounds = append(rep.Rounds, base)
	say("\n%s\n", loadTable(l, base))

	// Fail one TM of the web group: its health endpoint stops answering.
	l.FailTM(rep.FailedTM)
	took, err := p.wait("web-2 fails its health check; controller moves its buckets",
		func() bool { return !l.TMUp(rep.FailedTM) && l.InSync() }, 30*time.Second)
	if err != nil {
		return nil, err
	}
	down := l.sendAll("after web-2 failed", fs, p)
	down.Reprogram = took.Round(time.Millisecond).String()
	down.IdealMoved = base.PerTM[rep.FailedTM]
	for i := range fs {
		if base.assignment[i] != down.assignment[i] {
			down.Moved++
			if base.assignment[i] != rep.FailedTM {
				down.MovedOff++
			}
		}
	}
	rep.Rounds = append(rep.Rounds, down)
	webFlows := perGroup
	say("\n%s\n  flows moved: %d of %d web flows (%.1f%%); ideal: web-2's own %d (%.1f%% = 1/4); moved between surviving TMs: %d\n  from web-2 dying to both switches reprogrammed (health check every 100ms, down after 2 failures): %s\n",
		loadTable(l, down), down.Moved, webFlows, pct(down.Moved, webFlows), down.IdealMoved, pct(down.IdealMoved, webFlows), down.MovedOff, down.Reprogram)

	if err := l.RecoverTM(rep.FailedTM); err != nil {
		return nil, err
	}
	took, err = p.wait("web-2 passes its health check again",
		func() bool { return l.TMUp(rep.FailedTM) && l.InSync() }, 30*time.Second)
	if err != nil {
		return nil, err
	}
	back := l.sendAll("after web-2 returned", fs, p)
	back.Reprogram = took.Round(time.Millisecond).String()
	for i := range fs {
		if down.assignment[i] != back.assignment[i] {
			back.Moved++
			if back.assignment[i] != rep.FailedTM {
				back.MovedOff++
			}
		}
	}
	back.IdealMoved = back.PerTM[rep.FailedTM]
	rep.Rounds = append(rep.Rounds, back)
	say("\n%s\n  flows moved: %d, all of them to web-2 (moved between the other TMs: %d)\n\n", loadTable(l, back), back.Moved, back.MovedOff)

	rep.OK = true
	for _, r := range rep.Rounds {
		if r.Symmetric != r.Flows || r.MovedOff != 0 {
			rep.OK = false
		}
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return rep, enc.Encode(rep)
	}
	verdict := "every reply reached its request's TM; only the failed TM's flows moved"
	if !rep.OK {
		verdict = "FAILED: some replies missed their TM or flows moved between surviving TMs"
	}
	say("result: %s\n", verdict)
	return rep, nil
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// loadTable draws flows per TM as bars, group by group.
func loadTable(l *Deployment, r Round) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d flows, %d replies reached the request's TM\n", r.Name, r.Flows, r.Symmetric)
	names := make([]string, 0, len(r.PerTM))
	for n := range r.PerTM {
		names = append(names, n)
	}
	sort.Strings(names)
	max := 1
	for _, n := range names {
		if r.PerTM[n] > max {
			max = r.PerTM[n]
		}
	}
	for _, g := range l.Config.Groups {
		for _, tm := range l.Config.TMsOf(g.Name) {
			n := r.PerTM[tm.Name]
			state := ""
			if !l.TMUp(tm.Name) {
				state = "  (down)"
			}
			fmt.Fprintf(&b, "  %-7s w=%d %6d %s%s\n", tm.Name, tm.Weight, n, strings.Repeat("█", 40*n/max), state)
		}
	}
	if n := r.PerTM[""]; n > 0 {
		fmt.Fprintf(&b, "  %-7s     %6d (no TM!)\n", "none", n)
	}
	return b.String()
}
