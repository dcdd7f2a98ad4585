package lab

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/symdist/symdist/controller"
	"github.com/symdist/symdist/ports"
)

var binary string

func TestMain(m *testing.M) {
	code := func() int {
		if Missing() != "" {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "symdist-lab-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "symdist")
		if out, err := exec.Command("go", "build", "-o", binary, "../cmd/symdist").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building symdist: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func startLab(t *testing.T, prefix, sw string, selfPorts bool) *Lab {
	t.Helper()
	if why := Missing(); why != "" {
		t.Skip("lab: " + why)
	}
	l, err := Up(Options{Prefix: prefix, Binary: binary, Switch: sw, SelfPorts: selfPorts, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Down)
	return l
}

// TestLab is the whole system with real TCP: 2,000 HTTP requests over 500
// connections through the client-side distributor, three TMs sharing one
// SNAT address, and the server-side distributor; then a TM killed mid-run.
func TestLab(t *testing.T) {
	switches := []string{"soft"}
	if _, err := exec.LookPath("simple_switch_grpc"); err == nil {
		switches = append(switches, "bmv2")
	} else {
		t.Log("bmv2 run skipped: simple_switch_grpc not installed")
	}
	for _, sw := range switches {
		t.Run(sw, func(t *testing.T) {
			l := startLab(t, "sl"+sw[:1], sw, true)
			res, errs := l.Run(500, 4, 25, 5*time.Second)
			if res.Failed != 0 || res.OK != 2000 {
				t.Fatalf("%d of %d connections failed, %d of %d requests ok; first error: %v (logs in %s)",
					res.Failed, res.Connections, res.OK, res.Requests, errs[0], l.Opts.Dir)
			}
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
		})
	}
}

func killMidRun(t *testing.T, l *Lab) {
	// Long connections on every TM; then tm2 dies.
	type outcome struct {
		err error
	}
	done := make(chan outcome, 90)
	for i := 0; i < 90; i++ {
		go func() {
			_, err := l.Connection(i, 20, 10*time.Second)
			done <- outcome{err}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	l.StopTM("tm2")
	failed := 0
	for i := 0; i < 90; i++ {
		if o := <-done; o.err != nil {
			failed++
		}
	}
	// Only tm2's connections (about a third) may fail.
	if failed > 45 {
		t.Errorf("%d of 90 connections failed when one of three TMs died", failed)
	}
	t.Logf("%d of 90 connections in flight failed with tm2", failed)
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
