// SPDX-License-Identifier: Apache-2.0

package lab

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/symdist/symdist/internal/p4tools"

	"github.com/symdist/symdist/contract"
	"github.com/symdist/symdist/controller"
	"github.com/symdist/symdist/ports"
	"github.com/symdist/symdist/test/testbed"
	"github.com/symdist/symdist/test/verifytest"
)

var binary string

func TestMain(m *testing.M) {
	code := func() int {
		// TestChildEnvNoProxy's child needs no binary.
		if Missing() != "" || os.Getenv(proxyChild) != "" {
			return m.Run()
		}
		var remove func()
		var err error
		if binary, remove, err = testbed.BuildSymdist("../cmd/symdist"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer remove()
		return m.Run()
	}()
	os.Exit(code)
}

func startLab(t *testing.T, prefix, sw string, selfPorts bool) *Lab {
	t.Helper()
	return startLabWith(t, Options{Prefix: prefix, Switch: sw, SelfPorts: selfPorts})
}

// startLabWith brings a lab up with opts (the test's binary and log
// directory added) and takes it down at cleanup.
func startLabWith(t *testing.T, opts Options) *Lab {
	t.Helper()
	if why := Missing(); why != "" {
		t.Skip("lab: " + why)
	}
	opts.Binary = binary
	opts.Dir, opts.Log = testLogs(t, opts.Prefix)
	l, err := Up(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Down)
	return l
}

// testLogs makes a log directory that stays when the test fails (the
// TMs', the controller's) and the controller's logger writing there.
func testLogs(t *testing.T, prefix string) (string, *slog.Logger) {
	t.Helper()
	dir, err := os.MkdirTemp("", "symdist-"+prefix+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Kept when the test failed (a broken connection's snapshot,
		// broken-PORT.txt, is among them).
		if t.Failed() {
			t.Logf("logs kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	logf, err := os.Create(filepath.Join(dir, "controller.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	return dir, slog.New(slog.NewTextHandler(logf, nil))
}

// TestLab is the whole system with real TCP: 2,000 HTTP requests over 500
// connections through the client-side distributor, three TMs sharing one
// SNAT address, and the server-side distributor; then a TM killed mid-run.
func TestLab(t *testing.T) {
	for _, sw := range []string{"soft", "bmv2"} {
		t.Run(sw, func(t *testing.T) {
			skipUnlessSwitch(t, sw)
			l := startLab(t, "sl"+sw[:1], sw, true)
			res, errs := l.Run(500, 4, 25, 5*time.Second)
			if res.Failed != 0 || res.OK != 2000 {
				t.Fatalf("%d of %d connections failed, %d of %d requests ok; first error: %v (logs in %s)",
					res.Failed, res.Connections, res.OK, res.Requests, errs[0], l.Opts.Dir)
			}
			verifytest.CheckState(t, l.Controller)
			if got := l.Requests.Load(); got < 2000 {
				t.Errorf("server saw %d requests", got)
			}
			// Each TM handled both directions of its connections, from self ports.
			for i := 1; i <= NumTMs; i++ {
				st, err := l.TMStats(tmName(i))
				if err != nil {
					t.Fatal(err)
				}
				c, b, p := st.Connections, st.Bytes, st.SelfPorts
				t.Logf("%s: %d connections (%d completed), %d bytes up, %d down, %d from self ports, %d not",
					tmName(i), c.Accepted, c.Completed, b.ClientToServer, b.ServerToClient, p.Connections, p.OtherConnections)
				if c.Accepted < 50 || c.Failed != 0 || b.ClientToServer <= 0 || b.ServerToClient <= 0 || p.OtherConnections != 0 || p.Connections < c.Accepted {
					t.Errorf("%s: stats %+v", tmName(i), st)
				}
			}
			// Every source port the server saw is a self port of some TM.
			bt, err := l.Controller.Buckets("web")
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range l.SourcePorts() {
				owner := ""
				for i := 1; i <= NumTMs; i++ {
					tab, _ := ports.Compute(bt, tmName(i), netip.MustParseAddr(SNAT), 1024)
					if tab.IsOwn(uint16(p)) {
						owner = tmName(i)
					}
				}
				if owner == "" {
					t.Fatalf("the server saw source port %d, which is no TM's self port", p)
				}
			}

			t.Run("a TM killed mid-run", func(t *testing.T) { killMidRun(t, l) })
			verifytest.CheckState(t, l.Controller)
		})
	}
}

// ownerOf is the TM the client-side distributor sends a client connection
// to: the client's (address, port) is the greater-port side.
func ownerOf(buckets []string, local *net.TCPAddr) string {
	a, _ := netip.AddrFromSlice(local.IP.To4())
	return buckets[contract.Bucket(contract.Hash(contract.Key{Addr: a, Port: uint16(local.Port)}), len(buckets))]
}

func killMidRun(t *testing.T, l *Lab) {
	buckets, err := l.Controller.Buckets("web")
	if err != nil {
		t.Fatal(err)
	}
	// Long connections on every TM; then tm2 dies.
	outcomes := killWhileOpen(90, func(i int, opened func(*net.TCPAddr)) (*net.TCPAddr, error) {
		_, local, err := l.connection(i, 30, 10*time.Second, opened)
		return local, err
	}, func(a *net.TCPAddr) string { return ownerOf(buckets, a) }, func() { l.StopTM("tm2") })
	failedOn := map[string]int{}
	total := map[string]int{}
	for _, o := range outcomes {
		total[o.Owner]++
		if o.Err != nil {
			failedOn[o.Owner]++
		}
	}
	t.Logf("connections in flight when tm2 died: %v; failed: %v", total, failedOn)
	for owner, k := range failedOn {
		if owner != "tm2" {
			t.Errorf("%d connections on %s failed when tm2 died", k, owner)
		}
	}
	if failedOn["tm2"] != total["tm2"] || total["tm2"] == 0 {
		t.Errorf("%d of the %d connections on tm2 failed when it died: want all, and some", failedOn["tm2"], total["tm2"])
	}
	waitDown(t, l.Controller, "tm2")
	res, errs := l.Run(200, 2, 20, 5*time.Second)
	if res.Failed != 0 {
		t.Errorf("after the controller moved tm2's buckets, %d of 200 new connections failed: %v", res.Failed, errs[0])
	}
}

func waitDown(t *testing.T, c *controller.Controller, tm string) {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		st := c.Status()
		down := false
		for _, g := range st.Groups {
			for _, x := range g.TMs {
				down = down || (x.Name == tm && !x.Healthy)
			}
		}
		sync := true
		for _, s := range st.Switches {
			sync = sync && s.InSync
		}
		if down && sync {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("controller never took %s out", tm)
}

// The control run: with the kernel picking source ports, the server's
// replies reach the TM that owns the port's bucket, usually another one,
// and about (N-1)/N of the connections fail. This proves the lab can fail.
func TestLabWithoutSelfPorts(t *testing.T) {
	l := startLab(t, "sn", "soft", false)
	res, _ := l.Run(150, 1, 30, 3*time.Second)
	frac := float64(res.Failed) / float64(res.Connections)
	t.Logf("without self-source ports %d of %d connections failed (%.0f%%; (N-1)/N = 67%%)", res.Failed, res.Connections, 100*frac)
	if frac < 0.45 || frac > 0.9 {
		t.Errorf("%.0f%% of connections failed, want about 67%%", 100*frac)
	}
}

// plainClients connects n times from TM 1's namespace to the server with a
// plain client that lets the kernel pick its source port from the SNAT
// address, and counts the failures.
func plainClients(t *testing.T, l *Lab, n int) (failed int) {
	for i := 0; i < n; i++ {
		c, err := DialTCP(l.TMNS(1), &net.TCPAddr{IP: net.ParseIP(SNAT)}, fmt.Sprintf("%s:%d", ServerAddr, ServerPort), 500*time.Millisecond)
		if err != nil {
			failed++
			continue
		}
		c.Close()
	}
	return failed
}

// The ip_local_reserved_ports integration (docs/tm.md): with every port
// that is not tm1's reserved, an unmodified program in tm1's namespace that
// lets the kernel pick its source port gets only self ports, and every
// connection works. Without it, most fail.
func TestLabReservedPorts(t *testing.T) {
	l := startLab(t, "sr", "soft", true)
	if failed := plainClients(t, l, 30); failed < 10 {
		t.Errorf("without reserved ports only %d of 30 kernel-port connections failed, want about 20", failed)
	}
	buckets, err := l.Controller.Buckets("web")
	if err != nil {
		t.Fatal(err)
	}
	tab, err := ports.Compute(buckets, "tm1", netip.MustParseAddr(SNAT), 1024)
	if err != nil {
		t.Fatal(err)
	}
	value := ports.Ranges(tab.ReservedPorts(32768, 60999))
	err = InNS(l.TMNS(1), func() error {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_local_port_range", []byte("32768 60999"), 0o644); err != nil {
			return err
		}
		// One write: the kernel takes the list only whole.
		return os.WriteFile("/proc/sys/net/ipv4/ip_local_reserved_ports", []byte(value), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if failed := plainClients(t, l, 200); failed != 0 {
		t.Errorf("with reserved ports %d of 200 kernel-port connections failed", failed)
	}
}

// skipUnlessSwitch skips a test on switch sw ("soft" or "bmv2") where the
// lab or that switch cannot run, with the one-line reason.
func skipUnlessSwitch(t *testing.T, sw string) {
	t.Helper()
	if why := Missing(); why != "" {
		t.Skip("lab: " + why)
	}
	if sw == "bmv2" {
		if why := p4tools.Missing(p4tools.BMv2, "bmv2"); why != "" {
			t.Skip(why)
		}
	}
}
