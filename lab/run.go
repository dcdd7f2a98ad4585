// SPDX-License-Identifier: Apache-2.0

package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/controller"
	"github.com/symdist/symdist/tm"
)

// startServer serves HTTP in the server namespace; it answers with its
// counter and remembers every source port it saw.
func (l *Lab) startServer() error {
	ln, err := ListenTCP(l.ServerNS(), fmt.Sprintf("%s:%d", ServerAddr, ServerPort))
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			p, _ := strconv.Atoi(port)
			l.srcPorts.Store(p, true)
		}
		n := l.Requests.Add(1)
		fmt.Fprintf(w, "hello %d\n", n)
	})}
	go srv.Serve(ln)
	l.undo = append(l.undo, func() { srv.Close() })
	return nil
}

// SourcePorts returns the source ports the server saw.
func (l *Lab) SourcePorts() []int {
	var ps []int
	l.srcPorts.Range(func(k, _ any) bool {
		ps = append(ps, k.(int))
		return true
	})
	return ps
}

func (l *Lab) configYAML(adminAddr string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "election_id: 10\nadmin: {listen: %q, token: %q}\n", adminAddr, l.Token)
	if l.Opts.NoHandover {
		b.WriteString("handover_timeout: 0s\n")
	}
	b.WriteString("switches:\n")
	for i, name := range []string{"client-side", "server-side"} {
		fmt.Fprintf(&b, "  - name: %s\n    address: %q\n    device_id: 1\n    ports:\n      - {port: 1, role: edge}\n      - {port: 2, role: tm}\n      - {port: 3, role: tm}\n      - {port: 4, role: tm}\n      - {port: 5, role: peer}\n", name, l.switchAddrs[i])
		// The edge host's MAC, so that the TMs' frames to it are sent to
		// its port rather than flooded to every port (config l2).
		fmt.Fprintf(&b, "    l2:\n      - {mac: %q, port: 1}\n", []string{clientMAC, serverMAC}[i])
	}
	fmt.Fprintf(&b, `groups:
  - name: web
    id: 1
    default_tm: tm1
    rules:
      - {priority: 10, ip_version: 4, dst: %s/32}
      - {priority: 10, ip_version: 4, dst: %s/32}
tms:
`, VIP, SNAT)
	for i := 1; i <= NumTMs; i++ {
		fmt.Fprintf(&b, `  - name: %s
    id: %d
    group: web
    addresses: [10.0.1.%d]
    snat: [%s]
    ports:
      client-side: {port: %d, mac: %q}
      server-side: {port: %d, mac: %q}
    health: {type: http, target: "http://%s:8081/healthz", interval: 200ms, timeout: 150ms, rise: 2, fall: 2}
`, tmName(i), i, i, SNAT, i+1, tmMAC(1, i), i+1, tmMAC(2, i), tmMgmt(i))
	}
	return b.String()
}

// labNets are the lab's address ranges: the management network
// (198.18.0.0/15, the admin API and the TMs' HTTP) and the figure-3
// addresses (10.0.0.0/8).
const labNets = "198.18.0.0/15,10.0.0.0/8"

// childEnv is the environment of the processes the lab starts: this one's,
// with labNets in NO_PROXY, so that an HTTP_PROXY set for the machine does
// not carry their calls to the controller elsewhere.
func childEnv() []string {
	env := os.Environ()
	for _, k := range []string{"NO_PROXY", "no_proxy"} {
		v := labNets
		if old := os.Getenv(k); old != "" {
			v = old + "," + labNets
		}
		env = append(env, k+"="+v) // the last of a name wins
	}
	return env
}

// direct is the transport of the lab's own HTTP calls: never a proxy.
var direct = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	return t
}()

// adminListener makes a token for the controller's admin API and a
// listener for it on the management bridge.
func adminListener() (token string, ln net.Listener, err error) {
	tok := make([]byte, 16)
	rand.Read(tok)
	ln, err = net.Listen("tcp", mgmtNet+".1:0")
	return hex.EncodeToString(tok), ln, err
}

// runController runs c and its admin API on ln until Down.
func (l *Lab) runController(c *controller.Controller, ln net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.wg.Add(2)
	go func() { defer l.wg.Done(); c.Run(ctx) }()
	go func() { defer l.wg.Done(); c.ServeAdmin(ctx, ln) }()
}

func (l *Lab) startController() error {
	var ln net.Listener
	var err error
	if l.Token, ln, err = adminListener(); err != nil {
		return err
	}
	text := l.configYAML(ln.Addr().String())
	if err := os.WriteFile(filepath.Join(l.Opts.Dir, "controller.yaml"), []byte(text), 0o600); err != nil {
		ln.Close()
		return err
	}
	cfg, err := config.Parse("lab controller.yaml", []byte(text))
	if err != nil {
		ln.Close()
		return err
	}
	if l.Controller, err = controller.New(cfg, l.Opts.Log); err != nil {
		ln.Close()
		return err
	}
	l.AdminURL = "http://" + ln.Addr().String()
	l.runController(l.Controller, ln)
	return nil
}

// StartTM starts `symdist tm` for TM i in its namespace.
func (l *Lab) StartTM(i int, selfPorts bool) error {
	name := tmName(i)
	logf, err := os.Create(filepath.Join(l.Opts.Dir, name+".log"))
	if err != nil {
		return err
	}
	handover := []string{"--watch", "--hold", "3s"}
	if l.Opts.NoHandover {
		handover = []string{"--watch=false", "--hold", "0", "--loss-grace", "0"}
	}
	cmd := exec.Command("ip", "netns", "exec", l.TMNS(i), l.Opts.Binary, "tm",
		"--name", name,
		"--listen", VIP+":80",
		"--backend", fmt.Sprintf("%s:%d", ServerAddr, ServerPort),
		"--snat", SNAT,
		"--controller", l.AdminURL, "--token", l.Token,
		"--http", "0.0.0.0:8081",
		"--self-ports="+strconv.FormatBool(selfPorts),
		"--chain="+strconv.FormatBool(l.Opts.Chain),
		"--connect-timeout", "1s",
		"--grace", "1s",
	)
	cmd.Args = append(cmd.Args, handover...)
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	l.tms[name] = cmd
	go func() { cmd.Wait(); logf.Close() }()
	return nil
}

// StopTM kills a TM's process (as a crash would).
func (l *Lab) StopTM(name string) {
	if cmd := l.tms[name]; cmd != nil {
		_ = cmd.Process.Kill()
		delete(l.tms, name)
		// Its health endpoint must be gone before it is restarted.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := l.TMStats(name); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TMStats fetches a TM's /stats.
func (l *Lab) TMStats(name string) (tm.Stats, error) {
	i, _ := strconv.Atoi(strings.TrimPrefix(name, "tm"))
	c := http.Client{Timeout: time.Second, Transport: direct}
	resp, err := c.Get(fmt.Sprintf("http://%s:8081/stats", tmMgmt(i)))
	if err != nil {
		return tm.Stats{}, err
	}
	defer resp.Body.Close()
	var st tm.Stats
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// WaitReady waits until both switches are programmed, every running TM is
// healthy in the controller's view (and every other one not), and every TM
// has the bucket table since it last changed: with the handover, no loss
// is pending and each TM applied the last published version; without, each
// TM fetched the table again (TMs that were not up yet when the
// controller started make their group's table move once).
func (l *Lab) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	if !l.Opts.NoHandover {
		return l.waitApplied(deadline, timeout)
	}
	for {
		if err := l.waitHealthy(deadline, timeout); err != nil {
			return err
		}
		before, err := l.Controller.Buckets("web")
		if err != nil {
			return err
		}
		fetched := map[string]int64{}
		for name := range l.tms {
			st, err := l.TMStats(name)
			if err != nil {
				return err
			}
			fetched[name] = st.Buckets.Fetches
		}
		// Every TM fetches again within its refresh interval.
		for name, n := range fetched {
			for {
				st, err := l.TMStats(name)
				if err == nil && st.Buckets.Fetches > n {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("%s did not refresh its bucket table", name)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		after, err := l.Controller.Buckets("web")
		if err != nil {
			return err
		}
		if slices.Equal(before, after) {
			return nil
		}
	}
}

func (l *Lab) waitHealthy(deadline time.Time, timeout time.Duration) error {
	for {
		st := l.Controller.Status()
		ok := true
		for _, s := range st.Switches {
			ok = ok && s.InSync
		}
		for _, g := range st.Groups {
			for _, t := range g.TMs {
				_, running := l.tms[t.Name]
				ok = ok && running == t.Healthy
				if running {
					if _, err := l.TMStats(t.Name); err != nil {
						ok = false
					}
				}
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(st)
			return fmt.Errorf("lab not ready after %v: %s (logs in %s)", timeout, b, l.Opts.Dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Guide tells a person how to use the running lab.
func (l *Lab) Guide() string {
	return fmt.Sprintf(`The figure-3 lab is up (distributors: %s switch).

  client namespace   %s  (10.1.0.1-%d)   try: ip netns exec %s curl http://%s/
  TMs                %s, %s, %s  (symdist tm; SNAT %s shared; stats: curl http://%s:8081/stats)
  server namespace   %s  (%s:%d)
  controller admin   %s  (token %s)
                     symdist status --watch --controller %s --token %s
                     in a browser: %s/ (it asks for the token)
  fail a TM          kill its process, or: curl -XPOST -H 'Authorization: Bearer %s' %s/api/tms/tm2/drain
  logs               %s

Ctrl-C takes it down.
`, l.Opts.Switch, l.ClientNS(), Clients, l.ClientNS(), VIP, l.TMNS(1), l.TMNS(2), l.TMNS(3), SNAT, tmMgmt(1),
		l.ServerNS(), ServerAddr, ServerPort, l.AdminURL, l.Token, l.AdminURL, l.Token, l.AdminURL, l.Token, l.AdminURL, l.Opts.Dir)
}

// waitApplied waits until the switches hold the settled table and every
// running TM has applied its last published version.
func (l *Lab) waitApplied(deadline time.Time, timeout time.Duration) error {
	for {
		if err := l.waitHealthy(deadline, timeout); err != nil {
			return err
		}
		version, settled := l.Controller.Published("web")
		ok := settled && version > 0
		for name := range l.tms {
			st, err := l.TMStats(name)
			ok = ok && err == nil && st.Buckets.Version == version
		}
		if ok {
			if v, s := l.Controller.Published("web"); v == version && s {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("TMs did not apply bucket table version %d (settled %v) within %v (logs in %s)", version, settled, timeout, l.Opts.Dir)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
