// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/symdist/symdist/internal/p4tools"
)

// bmv2 is a simple_switch_grpc process started with no pipeline and no
// interfaces (table programming needs none), its P4Runtime, Thrift and
// notification endpoints on places no other switch on the machine uses.
type bmv2 struct {
	cmd  *exec.Cmd
	addr string // its gRPC server
	dir  string // its output and notification socket
	done chan struct{}

	mu      sync.Mutex
	samples []memorySample
}

type memorySample struct {
	when string
	mem  procMemory
	err  error
}

// findBMv2 is simple_switch_grpc from the flag, else where make toolchain
// installs it (SYMDIST_P4_PREFIX), else from PATH.
func findBMv2(flagged string) (string, error) {
	if flagged != "" {
		return flagged, nil
	}
	p, err := p4tools.Find(p4tools.BMv2)
	if err != nil {
		return "", fmt.Errorf("%w; give -bmv2", err)
	}
	return p, nil
}

func startBMv2(bin string) (*bmv2, error) {
	grpcPort, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"--device-id", "1", "--no-p4"}
	// A build with Thrift listens on 9090 unless told otherwise, where
	// another bmv2 on the machine may be; one without (make toolchain's
	// speed build, PREFIXperf) refuses the flag.
	if help, _ := exec.Command(bin, "--help").CombinedOutput(); bytes.Contains(help, []byte("--thrift-port")) {
		thriftPort, err := freePort()
		if err != nil {
			return nil, err
		}
		args = append(args, "--thrift-port", fmt.Sprint(thriftPort))
	}
	dir, err := os.MkdirTemp("", "bench-memory-bmv2")
	if err != nil {
		return nil, err
	}
	b := &bmv2{addr: fmt.Sprintf("127.0.0.1:%d", grpcPort), dir: dir, done: make(chan struct{})}
	out, err := os.Create(filepath.Join(dir, "bmv2.out"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer out.Close()
	args = append(args, "--notifications-addr", "ipc://"+filepath.Join(dir, "notifications.ipc"),
		"--", "--grpc-server-addr", b.addr, "--cpu-port", "255")
	b.cmd = exec.Command(bin, args...)
	b.cmd.Stdout, b.cmd.Stderr = out, out
	// If this program dies without stopping it, the kernel kills it.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	if err := b.waitServing(30 * time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "bmv2.out"))
		b.stop()
		return nil, fmt.Errorf("%s: %v; its output:\n%s", bin, err, log)
	}
	return b, nil
}

// waitServing waits until the gRPC port accepts connections.
func (b *bmv2) waitServing(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-b.done:
			return errors.New("exited at start")
		default:
		}
		if c, err := net.DialTimeout("tcp", b.addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no gRPC server on %s after %v", b.addr, limit)
}

// stop ends the process (SIGTERM, SIGKILL after 5 s) and removes its files.
func (b *bmv2) stop() {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
	os.RemoveAll(b.dir)
}

func (b *bmv2) memory() (procMemory, error) { return readProcMemory(b.cmd.Process.Pid) }

// cpu is the process's CPU time so far; 0 for no bmv2 (the software
// switch's is in this process's).
func (b *bmv2) cpu() time.Duration {
	if b == nil {
		return 0
	}
	d, _ := readProcCPU(b.cmd.Process.Pid)
	return d
}

// sample records the process's memory now, under a name for the report.
func (b *bmv2) sample(when string) {
	m, err := b.memory()
	b.mu.Lock()
	b.samples = append(b.samples, memorySample{when, m, err})
	b.mu.Unlock()
}

func (b *bmv2) report(entries int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.samples {
		if s.err != nil {
			fmt.Printf("bmv2 memory %-24s %v\n", s.when+":", s.err)
			continue
		}
		fmt.Printf("bmv2 memory %-24s VmRSS %7.1f MB  VmHWM %7.1f MB\n", s.when+":", mb(s.mem.RSS), mb(s.mem.HWM))
	}
	var pushed, programmed *memorySample
	for i := range b.samples {
		switch b.samples[i].when {
		case whenPushed:
			pushed = &b.samples[i]
		case whenProgrammed:
			programmed = &b.samples[i]
		}
	}
	if pushed != nil && programmed != nil && pushed.err == nil && programmed.err == nil && programmed.mem.RSS > pushed.mem.RSS {
		grown := programmed.mem.RSS - pushed.mem.RSS
		fmt.Printf("bmv2 RSS for the entries:    %6.1f MB  %6.0f bytes/entry\n", mb(grown), float64(grown)/float64(entries))
	}
}

const (
	whenStarted    = "started, no pipeline"
	whenPushed     = "after pipeline push"
	whenProgrammed = "after programming"
	whenFailed     = "after the TM failure"
)

// freePort is a TCP port free on 127.0.0.1 now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
