// SPDX-License-Identifier: Apache-2.0

// Command memory measures what a large bucket table costs: a controller
// programs one software switch (p4rtserver and swmodel, in this process)
// with G groups of B buckets and N TMs, and it prints the time to program
// it, the time for one TM's failure to reach the switch after the
// controller's decision, and the heap in use after GC of the switch and of
// the controller, per bucket entry.
//
//	go run ./tools/bench/memory -groups 16 -buckets 65536 -tms 128
//
// Heap figures: the live heap (runtime.MemStats.HeapAlloc after two GCs)
// with the switch alone, and with the controller beside it; the
// controller's share is the difference.
//
// With -switch bmv2 the switch is simple_switch_grpc, started here with no
// pipeline (the controller pushes it, target bmv2) and no interfaces, and
// stopped at the end, on error and on Ctrl-C; its figures are its CPU time
// and its VmRSS and VmHWM from /proc (bmv2.go, procstatus.go):
//
//	go run ./tools/bench/memory -switch bmv2 -groups 16 -buckets 65536 -tms 128
//	go run ./tools/bench/memory -switch bmv2 -bmv2 /opt/p4perf/bin/simple_switch_grpc  # the speed build
//
// The config goes through config check: B a power of two up to 65,536, G x B
// within the pipeline's bucket_table (1,048,576 entries).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/controller"
	"github.com/symdist/symdist/internal/heap"
	"github.com/symdist/symdist/swswitch"
	"github.com/symdist/symdist/test/testbed"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "memory:", err)
		os.Exit(1)
	}
}

func run() error {
	groups := flag.Int("groups", 16, "groups (groups x buckets at most the pipeline's bucket_table, 1,048,576)")
	buckets := flag.Int("buckets", 65536, "buckets per group (a power of two up to 65,536)")
	tms := flag.Int("tms", 128, "TMs, spread evenly over the groups")
	kind := flag.String("switch", "software", "the switch to program: software (in this process) or bmv2 (simple_switch_grpc, started here)")
	bmv2Bin := flag.String("bmv2", "", "the simple_switch_grpc to run with -switch bmv2 (default: in $SYMDIST_P4_PREFIX/bin (/opt/p4/bin), else from PATH)")
	viaProxy := flag.Bool("count", true, "with -switch bmv2: pass P4Runtime through a counting proxy in this process, for progress and the memory after the pipeline push")
	limit := flag.Duration("timeout", 30*time.Minute, "give up when the switch is not programmed after this long")
	verbose := flag.Bool("v", false, "log the controller to stderr")
	heapProfile := flag.String("heap-profile", "", "write a heap profile after programming (the controller's, and the software switch's) to this file")
	profile := flag.String("failure-profile", "", "write a CPU profile of the TM failure's handling to this file")
	flag.Parse()
	logTo := io.Discard
	if *verbose {
		logTo = os.Stderr
	}
	if *groups < 1 || *tms < *groups || *tms > 500 {
		return fmt.Errorf("want 1 <= groups <= tms <= 500")
	}
	if *kind != "software" && *kind != "bmv2" {
		return fmt.Errorf("-switch %q: want software or bmv2", *kind)
	}
	entries := *groups * *buckets
	// Ctrl-C or SIGTERM ends the run through the deferred stops: no
	// switch process is left behind.
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()

	base := heap.Live()
	var sw *bmv2
	var written func() int64
	var addr, target string
	if *kind == "software" {
		var stopSwitch func()
		var err error
		if addr, stopSwitch, err = startSwitch(); err != nil {
			return err
		}
		defer stopSwitch()
		target = "software"
	} else {
		bin, err := findBMv2(*bmv2Bin)
		if err != nil {
			return err
		}
		if sw, err = startBMv2(bin); err != nil {
			return err
		}
		defer sw.stop()
		sw.sample(whenStarted)
		addr, target = sw.addr, "bmv2"
		if *viaProxy {
			proxy, proxyAddr, err := startCountProxy(sw.addr, func() { sw.sample(whenPushed) })
			if err != nil {
				return err
			}
			defer proxy.stop()
			addr, written = proxyAddr, proxy.written.Load
		}
		fmt.Fprintf(os.Stderr, "memory: %s (pid %d) serving P4Runtime on %s\n", bin, sw.cmd.Process.Pid, sw.addr)
	}
	cfg, err := makeConfig(addr, target, *groups, *buckets, *tms)
	if err != nil {
		return err
	}
	syncs := &syncTimes{Handler: slog.NewTextHandler(logTo, nil)}
	c, err := controller.New(cfg, slog.New(syncs))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	start, cpuStart, switchCPUStart := time.Now(), processCPU(), sw.cpu()
	go func() { c.Run(ctx); close(done) }()
	if sw != nil {
		stopProgress := reportProgress(sw, written, entries, start)
		err = waitInSync(ctx, c, *limit)
		stopProgress()
	} else {
		err = waitInSync(ctx, c, *limit)
	}
	if err != nil {
		return err
	}
	program, programCPU, programSwitchCPU := time.Since(start), processCPU()-cpuStart, sw.cpu()-switchCPUStart
	programSync := syncs.last()
	if sw != nil {
		sw.sample(whenProgrammed)
	}
	both := heap.Live()
	if *heapProfile != "" {
		if err := writeHeapProfile(*heapProfile); err != nil {
			return err
		}
	}

	// A TM fails: from the controller's decision (what a health check
	// does after `fall` failures) to the switch holding the new table.
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	start, cpuStart, switchCPUStart = time.Now(), processCPU(), sw.cpu()
	if err := c.Drain("t1-1", true); err != nil {
		return err
	}
	if err := waitInSync(ctx, c, time.Minute); err != nil {
		return err
	}
	failure, failureCPU, failureSwitchCPU := time.Since(start), processCPU()-cpuStart, sw.cpu()-switchCPUStart
	pprof.StopCPUProfile()
	failureSync := syncs.last()
	if sw != nil {
		sw.sample(whenFailed)
	}

	cancel()
	<-done
	c = nil
	alone := heap.Live()

	perEntry := func(b uint64) float64 { return float64(b) / float64(entries) }
	cpuOf := "both"
	if sw != nil {
		cpuOf = "this process"
	}
	fmt.Printf("groups %d x buckets %d = %d bucket entries, %d TMs, switch %s, %s, %d CPUs\n", *groups, *buckets, entries, *tms, target, runtime.Version(), runtime.NumCPU())
	fmt.Printf("program the switch:          %v (CPU of %s: %v; the controller's sync: %v)\n",
		program.Round(time.Millisecond), cpuOf, programCPU.Round(time.Millisecond), programSync)
	fmt.Printf("TM failure reaches switch:   %v (CPU of %s: %v; the controller's sync: %v; %d buckets moved)\n",
		failure.Round(time.Millisecond), cpuOf, failureCPU.Round(time.Millisecond), failureSync, *buckets/(*tms / *groups))
	if n, last := syncs.failures(); n > 0 {
		fmt.Printf("syncs that failed and were retried: %d (the last: %s)\n", n, last)
	}
	if sw != nil {
		fmt.Printf("bmv2 CPU:                    %v programming, %v for the TM failure\n",
			programSwitchCPU.Round(time.Millisecond), failureSwitchCPU.Round(time.Millisecond))
		// What is left in this process without the controller is the
		// proxy's: the controller's heap is the difference as before.
		sw.report(entries)
	} else {
		fmt.Printf("switch heap after GC:        %6.1f MB  %6.0f bytes/entry\n", mb(alone-base), perEntry(alone-base))
	}
	controllerHeap := uint64(0)
	if both > alone {
		controllerHeap = both - alone
	}
	fmt.Printf("controller heap after GC:    %6.1f MB  %6.0f bytes/entry\n", mb(controllerHeap), perEntry(controllerHeap))
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average at the end:     %s", la)
	}
	return nil
}

func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func mb(b uint64) float64 { return float64(b) / 1e6 }

// processCPU is the CPU time (user and system) of this process so far: on a
// shared machine the wall times above also count other processes' turns.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startSwitch runs a software switch with ports 1-17 on a free port.
func startSwitch() (addr string, stop func(), err error) {
	ports := map[uint16]swswitch.Port{}
	for n := uint16(1); n <= 17; n++ {
		ports[n] = swswitch.NewPipePort(func([]byte) {})
	}
	sw, err := swswitch.Listen(swswitch.Config{DeviceID: 1, Ports: ports})
	if err != nil {
		return "", nil, err
	}
	return sw.Addr(), sw.Stop, nil
}

// makeConfig is one switch, groups by VLAN of B buckets each, TMs spread
// over the groups and over 16 TM ports.
func makeConfig(addr, target string, groups, buckets, tms int) (*config.Config, error) {
	if groups < 1 || tms%groups != 0 {
		return nil, fmt.Errorf("-tms %d is not a multiple of -groups %d", tms, groups)
	}
	return testbed.Grid{Switches: []string{addr}, Target: target, TMPorts: 16, Groups: groups,
		TMsPerGroup: tms / groups, Buckets: buckets}.Parse()
}

func waitInSync(ctx context.Context, c *controller.Controller, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return fmt.Errorf("stopped before the controller was in sync")
		}
		in := true
		for _, s := range c.Status().Switches {
			in = in && s.InSync
		}
		if in {
			return nil
		}
		// Status counts every bucket: asking more often would take the
		// CPU the sync needs (the sync's own time is logged, syncTimes).
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("controller not in sync after %v", limit)
}

// syncTimes passes log records on, and keeps the duration of the last
// "switch synced": the controller's own time from the start of a sync to
// the switch written.
type syncTimes struct {
	slog.Handler
	mu       sync.Mutex
	total    time.Duration
	failed   int
	lastFail string
}

func (h *syncTimes) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "sync failed" {
		h.mu.Lock()
		h.failed++
		h.lastFail = ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "error" {
				h.lastFail = a.Value.String()
			}
			return true
		})
		h.mu.Unlock()
	}
	if r.Message == "switch synced" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "total" {
				h.mu.Lock()
				h.total = a.Value.Duration()
				h.mu.Unlock()
			}
			return true
		})
	}
	return h.Handler.Handle(ctx, r)
}

func (h *syncTimes) last() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

// failures is how many syncs failed (and were retried), and the last one's
// error.
func (h *syncTimes) failures() (int, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failed, h.lastFail
}
