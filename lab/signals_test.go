// SPDX-License-Identifier: Apache-2.0

package lab

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/test/verifytest"
)

// symdist switch and symdist controller stop cleanly (exit 0, promptly) on
// SIGTERM and SIGINT.
func TestCleanShutdown(t *testing.T) {
	if why := Missing(); why != "" {
		t.Skip("shutdown test: " + why)
	}
	_ = sh("ip", "link", "del", "sdsig0")
	if err := sh("ip", "link", "add", "sdsig0", "type", "veth", "peer", "name", "sdsig1"); err != nil {
		t.Fatal(err)
	}
	defer sh("ip", "link", "del", "sdsig0")
	cfg := isolatedFigure3(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		for _, args := range [][]string{
			{"switch", "--grpc", "127.0.0.1:0", "--device-id", "3", "--port", "1=sdsig0", "--port", "2=sdsig1"},
			{"controller", "--config", cfg},
		} {
			cmd := exec.Command(binary, args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
			start := time.Now()
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("symdist %s after %v: %v", args[0], sig, err)
				}
				if d := time.Since(start); d > 3*time.Second {
					t.Errorf("symdist %s took %v to stop", args[0], d)
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Errorf("symdist %s did not stop on %v", args[0], sig)
			}
		}
	}
}

// isolatedFigure3 writes examples/figure3.yaml for a controller that
// touches nothing outside the test: its switches on loopback ports that
// were free and are closed, no health checks, the admin API on a free port.
func isolatedFigure3(t *testing.T) string {
	t.Helper()
	example, err := os.ReadFile("../examples/figure3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	at := map[string]verifytest.At{"client-side": {Addr: closedPort(t), DeviceID: 1}, "server-side": {Addr: closedPort(t), DeviceID: 2}}
	path := filepath.Join(t.TempDir(), "figure3.yaml")
	if err := os.WriteFile(path, []byte(verifytest.Figure3Config(example, at)), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.Listen != "127.0.0.1:0" {
		t.Fatalf("admin API on %s, want 127.0.0.1:0: has figure3.yaml changed?", c.Admin.Listen)
	}
	for _, sw := range c.Switches {
		if sw.Address != at[sw.Name].Addr {
			t.Fatalf("switch %s at %s, want %s: has figure3.yaml changed?", sw.Name, sw.Address, at[sw.Name].Addr)
		}
	}
	for _, tm := range c.TMs {
		if tm.Health.Type != "none" {
			t.Fatalf("tm %s has a %s health check, want none: has figure3.yaml changed?", tm.Name, tm.Health.Type)
		}
	}
	return path
}

// closedPort is a loopback address whose port was free a moment ago.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
