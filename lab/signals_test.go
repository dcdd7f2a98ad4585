package lab

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
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
	example, err := os.ReadFile("../examples/figure3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, bytes.Replace(example, []byte("127.0.0.1:9090"), []byte("127.0.0.1:0"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
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
