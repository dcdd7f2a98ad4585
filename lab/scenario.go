// SPDX-License-Identifier: Apache-2.0

package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/contract"
	"github.com/symdist/symdist/tm"
	"gopkg.in/yaml.v3"
)

// TMStats fetches a TM's /stats over the management network.
func (r *Rehearsal) TMStats(name string) (tm.Stats, error) {
	t := r.TM(name)
	if t == nil {
		return tm.Stats{}, fmt.Errorf("no tm %q", name)
	}
	c := http.Client{Timeout: time.Second, Transport: direct}
	resp, err := c.Get(fmt.Sprintf("http://%s/stats", net.JoinHostPort(t.Mgmt, fmt.Sprint(t.HTTPPort))))
	if err != nil {
		return tm.Stats{}, err
	}
	defer resp.Body.Close()
	var st tm.Stats
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// WaitReady waits until every switch is in sync, every running TM is
// healthy in the controller's view (and every other one not), and in
// every group the handover is settled and each running TM applied the last
// published table.
func (r *Rehearsal) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		why := r.notReady()
		if why == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %s (logs in %s)", timeout, why, r.Opts.Dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *Rehearsal) notReady() string {
	st := r.Controller.Status()
	for _, s := range st.Switches {
		if !s.InSync {
			return "switch " + s.Name + " not in sync"
		}
	}
	for _, g := range st.Groups {
		version, settled := r.Controller.Published(g.Name)
		if !settled || version == 0 {
			return fmt.Sprintf("group %s: table version %d not settled", g.Name, version)
		}
		for _, t := range g.TMs {
			if running := r.Running(t.Name); running != t.Healthy {
				return fmt.Sprintf("%s: running %v, healthy %v", t.Name, running, t.Healthy)
			}
			if !t.Healthy {
				continue
			}
			ts, err := r.TMStats(t.Name)
			if err != nil || ts.Buckets.Version != version {
				return fmt.Sprintf("%s has not applied table version %d of group %s", t.Name, version, g.Name)
			}
		}
	}
	return ""
}

// client is the client address connection c uses to reach v.
func (r *Rehearsal) client(v Virtual, c int) *net.TCPAddr {
	clients := RehearseClients4
	if v.Addr.Is6() {
		clients = RehearseClients6
	}
	return &net.TCPAddr{IP: net.ParseIP(clients[c%len(clients)])}
}

// connect opens connection c to v and sends n requests on it.
func (r *Rehearsal) connect(v Virtual, c, n int, timeout time.Duration, opened func(*net.TCPAddr)) (int, *net.TCPAddr, error) {
	return requests(r.ClientNS(), r.client(v, c), v.String(), n, timeout, opened)
}

// owner is the TM the distributors send a client's connection to, and
// the TM the server's replies to (SNAT, port) go to: the greater-port side
// of a connection is its key.
func owner(buckets []string, a *net.TCPAddr) string {
	addr, _ := netip.AddrFromSlice(a.IP)
	return buckets[contract.Bucket(contract.Hash(contract.Key{Addr: addr.Unmap(), Port: uint16(a.Port)}), len(buckets))]
}

// Step is one step of the scenario.
type Step struct {
	Name                string
	Connections, Failed int
	// Excused failures were open while the distributor moved their own
	// client bucket (the cost of moving a bucket, whatever the TMs do).
	Excused int
	// Moved (the established step): connections whose bucket moved while
	// they were open.
	Moved    int
	Problems []string
}

// OK says whether the step passed.
func (s Step) OK() bool { return len(s.Problems) == 0 }

func (s Step) String() string {
	verdict := "ok"
	if p := s.Problems; len(p) > 5 {
		verdict = fmt.Sprintf("FAILED: %s; and %d more", strings.Join(p[:5], "; "), len(p)-5)
	} else if len(p) > 0 {
		verdict = "FAILED: " + strings.Join(p, "; ")
	}
	ex := ""
	if s.Excused > 0 {
		ex = fmt.Sprintf(" (%d in flight while their bucket moved)", s.Excused)
	}
	if s.Moved > 0 {
		ex = fmt.Sprintf(" (%d had their bucket moved while open)", s.Moved)
	}
	return fmt.Sprintf("%-18s %4d connections, %d failed%s: %s", s.Name, s.Connections, s.Failed, ex, verdict)
}

// Scenario is what RunScenario saw.
type Scenario struct{ Steps []Step }

// Passed says whether every step passed.
func (s Scenario) Passed() bool {
	for _, st := range s.Steps {
		if !st.OK() {
			return false
		}
	}
	return len(s.Steps) > 0
}

func (s Scenario) String() string {
	var b strings.Builder
	for _, st := range s.Steps {
		b.WriteString(st.String() + "\n")
	}
	if s.Passed() {
		b.WriteString("rehearsal passed\n")
	} else {
		b.WriteString("rehearsal FAILED\n")
	}
	return b.String()
}

// ScenarioRate is the rate of new connections through every change.
const ScenarioRate = 20

// RunScenario runs the end-to-end scenario: requests through every VIP,
// a TM killed, the same TM joining again, a weight change, a drain and an
// undrain (in a second group where there is one), with ScenarioRate new connections a second through each change.
// progress, if not nil, gets each step as it ends.
func (r *Rehearsal) RunScenario(progress func(Step)) Scenario {
	var sc Scenario
	add := func(s Step) {
		sc.Steps = append(sc.Steps, s)
		if progress != nil {
			progress(s)
		}
	}
	add(r.requestsStep("requests"))
	victim, other := r.pickTMs()
	if victim == "" {
		add(Step{Name: "kill", Problems: []string{"no group has two TMs: nothing to kill, join or reweight"}})
		return sc
	}
	add(r.killStep(victim))
	if !sc.Passed() {
		return sc
	}
	c := &adminapi.Client{URL: r.AdminURL, Token: r.Token, HTTP: &http.Client{Timeout: 5 * time.Second, Transport: direct}}
	ctx := context.Background()
	// Long-lived connections through every planned change (not the kill:
	// a TM that fails takes its connections with it).
	var est *established
	if !r.Opts.NoEstablished {
		var err error
		if est, err = r.startEstablished(EstablishedConnections); err != nil {
			add(Step{Name: "established", Problems: []string{err.Error()}})
			return sc
		}
	}
	planned := func(st Step) {
		if est != nil {
			est.ended(st.Name)
			est.snapshot()
		}
		add(st)
	}
	planned(r.changeStep("join "+victim, func() error { return r.StartTM(victim) }))
	w := r.Config.TM(other).Weight
	planned(r.changeStep(fmt.Sprintf("weight %s %d->%d", other, w, w+2), func() error { return c.SetWeight(ctx, other, w+2) }))
	drained := r.drainTarget(victim, other)
	planned(r.changeStep("drain "+drained, func() error { return c.Drain(ctx, drained, true) }))
	planned(r.changeStep("undrain "+drained, func() error { return c.Drain(ctx, drained, false) }))
	planned(r.changeStep(fmt.Sprintf("apply weight %s %d", other, w+1), func() error { return r.applyWeight(ctx, c, other, w+1) }))
	if est != nil {
		add(est.step())
	}
	add(r.requestsStep("requests"))
	return sc
}

// pickTMs picks, in the group with the most TMs (at least two), the TM to
// kill and bring back (its last) and the one to reweight and drain (its
// first).
func (r *Rehearsal) pickTMs() (victim, other string) {
	byGroup := map[string][]string{}
	best := ""
	for _, t := range r.TMs {
		byGroup[t.Group] = append(byGroup[t.Group], t.Name)
		if len(byGroup[t.Group]) > len(byGroup[best]) {
			best = t.Group
		}
	}
	if g := byGroup[best]; len(g) >= 2 {
		return g[len(g)-1], g[0]
	}
	return "", ""
}

// drainTarget is the first TM of another group with two TMs or more
// than the victim's (so that a second group's table moves too), else
// other.
func (r *Rehearsal) drainTarget(victim, other string) string {
	count := map[string]int{}
	for _, t := range r.TMs {
		count[t.Group]++
	}
	for _, t := range r.TMs {
		if t.Group != r.TM(victim).Group && count[t.Group] >= 2 {
			return t.Name
		}
	}
	return other
}

// statsOf reads every running TM's /stats.
func (r *Rehearsal) statsOf() map[string]tm.Stats {
	out := map[string]tm.Stats{}
	for _, t := range r.TMs {
		if r.Running(t.Name) {
			if st, err := r.TMStats(t.Name); err == nil {
				out[t.Name] = st
			}
		}
	}
	return out
}

// waitIdle waits up to limit for every running TM to hold no connection.
func (r *Rehearsal) waitIdle(limit time.Duration) {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var active int64
		for _, st := range r.statsOf() {
			active += st.Connections.Active
		}
		if active == 0 {
			return
		}
	}
}

// requestsStep sends 20 connections of 2 requests through every VIP: all
// succeed, and each connection's two directions meet at one TM: the TM
// owning the client's bucket is the TM owning the bucket of the source
// the server saw (SNAT, self port), and the TMs' own counters agree.
func (r *Rehearsal) requestsStep(name string) Step {
	const conns, reqs = 20, 2
	s := Step{Name: name}
	before := r.statsOf()
	want := map[string]int64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, v := range r.VIPs {
		buckets, err := r.Controller.Buckets(v.Group)
		if err != nil {
			s.Problems = append(s.Problems, err.Error())
			return s
		}
		for i := 0; i < conns; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, local, err := r.connect(v, i, reqs, 5*time.Second, nil)
				mu.Lock()
				defer mu.Unlock()
				s.Connections++
				if err != nil {
					s.Failed++
					if s.Failed <= 3 {
						s.Problems = append(s.Problems, fmt.Sprintf("%v: %v", v, err))
					}
					return
				}
				seen, ok := r.served.Load(local.String())
				if !ok {
					s.Problems = append(s.Problems, fmt.Sprintf("the server never saw %v", local))
					return
				}
				back, _ := net.ResolveTCPAddr("tcp", seen.(string))
				there, back2 := owner(buckets, local), owner(buckets, back)
				want[there]++
				if there != back2 {
					s.Problems = append(s.Problems, fmt.Sprintf("%v via %v: to %s, the replies to %v owned by %s", local, v, there, back, back2))
				}
			}()
		}
	}
	wg.Wait()
	after := r.statsOf()
	for name, st := range after {
		b := before[name]
		got := st.Connections.Accepted - b.Connections.Accepted
		if got != want[name] || st.Connections.Failed != b.Connections.Failed || st.SelfPorts.OtherConnections != b.SelfPorts.OtherConnections {
			s.Problems = append(s.Problems, fmt.Sprintf("%s accepted %d connections (want %d), failed %d, %d not from self ports",
				name, got, want[name], st.Connections.Failed-b.Connections.Failed, st.SelfPorts.OtherConnections-b.SelfPorts.OtherConnections))
		}
	}
	return s
}

// killStep opens long connections through every VIP of the victim's
// group, kills the victim: only its connections fail; once the controller
// moved its buckets, new connections all succeed.
func (r *Rehearsal) killStep(victim string) Step {
	s := Step{Name: "kill " + victim}
	group := r.TM(victim).Group
	var vips []Virtual
	for _, v := range r.VIPs {
		if v.Group == group {
			vips = append(vips, v)
		}
	}
	buckets, err := r.Controller.Buckets(group)
	if err != nil {
		s.Problems = append(s.Problems, err.Error())
		return s
	}
	outcomes := killWhileOpen(60, func(i int, opened func(*net.TCPAddr)) (*net.TCPAddr, error) {
		_, local, err := r.connect(vips[i%len(vips)], i, 30, 10*time.Second, opened)
		return local, err
	}, func(a *net.TCPAddr) string { return owner(buckets, a) }, func() { r.StopTM(victim) })
	onVictim := 0
	for _, o := range outcomes {
		s.Connections++
		if o.Owner == victim {
			onVictim++
			if o.Err == nil {
				s.Problems = append(s.Problems, fmt.Sprintf("a connection on %s went on after it was killed", victim))
			}
		}
		if o.Err != nil {
			s.Failed++
			switch o.Owner {
			case victim:
			case "":
				s.Problems = append(s.Problems, fmt.Sprintf("a connection failed to open: %v", o.Err))
			default:
				s.Problems = append(s.Problems, fmt.Sprintf("a connection on %s failed when %s died: %v", o.Owner, victim, o.Err))
			}
		}
	}
	if onVictim == 0 {
		s.Problems = append(s.Problems, fmt.Sprintf("no connection was on %s: the step proves nothing", victim))
	}
	if err := r.WaitReady(30 * time.Second); err != nil {
		s.Problems = append(s.Problems, err.Error())
		return s
	}
	after := r.requestsStep("")
	s.Connections += after.Connections
	s.Failed += after.Failed
	s.Problems = append(s.Problems, after.Problems...)
	return s
}

// changeStep opens ScenarioRate new connections a second, round robin
// through the VIPs, from 1 s before change until 1 s after the tier has
// settled. A failure is excused only when the connection was open while
// the switches moved its own client bucket and was reset; any other
// failure, or more failures counted by the TMs than were excused, fails
// the step.
func (r *Rehearsal) changeStep(name string, change func() error) Step {
	s := Step{Name: name}
	logs := map[string]*TableLog{}
	before := map[string][]string{}
	for _, g := range r.Config.Groups {
		logs[g.Name] = observeGroup(r.AdminURL, r.Token, g.Name)
		defer logs[g.Name].Stop()
		before[g.Name], _ = r.Controller.Buckets(g.Name)
	}
	counters := r.statsOf()
	vipOf := func(i int) Virtual { return r.VIPs[i%len(r.VIPs)] }
	steady := r.base.startSteady(ScenarioRate, func(i int) (int, *net.TCPAddr, error) {
		return r.connect(vipOf(i), i/len(r.VIPs), 1, 5*time.Second, nil)
	})
	time.Sleep(time.Second)
	start := time.Now()
	err := change()
	if err == nil {
		err = r.WaitReady(30 * time.Second)
	}
	time.Sleep(time.Second)
	res := steady.Stop()
	// A TM that accepted a connection just before its bucket moved away
	// may hold it for a port (--hold) after the clients are done: count
	// its outcome in this step, not the next.
	r.waitIdle(rehearseHold + 2*time.Second)
	s.Connections, s.Failed = res.Connections, res.Failed
	if err != nil {
		s.Problems = append(s.Problems, err.Error())
		return s
	}
	for _, f := range res.Failures {
		if f.From != nil && r.inFlight(f, vipOf(f.N).Group, before, logs, start) {
			s.Excused++
			continue
		}
		s.Problems = append(s.Problems, f.String())
	}
	// A connection in flight while its bucket moved may also be failed by
	// the TM that accepted it (it lost its ports and waited for one in
	// vain): those are the excused ones, any more is a problem.
	var failed int64
	var who []string
	for name, st := range r.statsOf() {
		c := counters[name] // a TM started in the step counts from 0
		if d := st.Connections.Failed - c.Connections.Failed; d != 0 {
			failed += d
			who = append(who, fmt.Sprintf("%s %d", name, d))
		}
	}
	if failed > int64(s.Excused) {
		s.Problems = append(s.Problems, fmt.Sprintf("the TMs counted %d failed connections (%s), %d of them in flight",
			failed, strings.Join(who, ", "), s.Excused))
	}
	return s
}

// inFlight says whether failure f was reset while the switches moved its
// client bucket.
func (r *Rehearsal) inFlight(f Failure, group string, before map[string][]string, logs map[string]*TableLog, start time.Time) bool {
	after, err := r.Controller.Buckets(group)
	if err != nil {
		return false
	}
	addr, _ := netip.AddrFromSlice(f.From.IP)
	b := contract.Bucket(contract.Hash(contract.Key{Addr: addr.Unmap(), Port: uint16(f.From.Port)}), len(after))
	from, to := before[group][b], after[b]
	moveAfter, moveBefore := logs[group].Moved(b, from, to, start)
	return from != to && !moveBefore.IsZero() && f.Opened.Before(moveBefore) && f.Ended.After(moveAfter) &&
		errors.Is(f.Err, syscall.ECONNRESET)
}

// applyWeight applies the running config with one TM's weight changed,
// through the admin API as `symdist config apply` does.
func (r *Rehearsal) applyWeight(ctx context.Context, c *adminapi.Client, tm string, weight int) error {
	cfg := *r.Controller.Config()
	cfg.TMs = slices.Clone(cfg.TMs)
	for i := range cfg.TMs {
		if cfg.TMs[i].Name == tm {
			cfg.TMs[i].Weight = weight
		}
	}
	text, err := yaml.Marshal(&cfg)
	if err != nil {
		return err
	}
	_, err = c.ApplyConfig(ctx, "rehearse-apply.yaml", text)
	return err
}
