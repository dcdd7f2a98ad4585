// Command memory measures what a large bucket table costs: a controller
// programs one software switch (p4rtserver and swmodel, in this process)
// with G groups of B buckets and N TMs, and it prints the time to program
// it, the time for one TM's failure to reach the switch after the
// controller's decision, and the heap in use after GC of the switch and of
// the controller, per bucket entry.
//
//	go run ./bench/memory -groups 16 -buckets 65536 -tms 128
//
// Heap figures: the live heap (runtime.MemStats.HeapAlloc after two GCs)
// with the switch alone, and with the controller beside it; the
// controller's share is the difference.
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
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/controller"
	"github.com/symdist/symdist/internal/heap"
	"github.com/symdist/symdist/swswitch"
	"google.golang.org/grpc"
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
	verbose := flag.Bool("v", false, "log the controller to stderr")
	profile := flag.String("failure-profile", "", "write a CPU profile of the TM failure's handling to this file")
	flag.Parse()
	logTo := io.Discard
	if *verbose {
		logTo = os.Stderr
	}
	if *groups < 1 || *tms < *groups || *tms > 500 {
		return fmt.Errorf("want 1 <= groups <= tms <= 500")
	}
	entries := *groups * *buckets

	base := heap.Live()
	addr, stopSwitch, err := startSwitch()
	if err != nil {
		return err
	}
	defer stopSwitch()
	cfg, err := makeConfig(addr, *groups, *buckets, *tms)
	if err != nil {
		return err
	}
	syncs := &syncTimes{Handler: slog.NewTextHandler(logTo, nil)}
	c, err := controller.New(cfg, slog.New(syncs))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	start, cpuStart := time.Now(), processCPU()
	go func() { c.Run(ctx); close(done) }()
	if err := waitInSync(c, 10*time.Minute); err != nil {
		return err
	}
	program, programCPU := time.Since(start), processCPU()-cpuStart
	both := heap.Live()

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
	start, cpuStart = time.Now(), processCPU()
	if err := c.Drain("t1-1", true); err != nil {
		return err
	}
	if err := waitInSync(c, time.Minute); err != nil {
		return err
	}
	failure, failureCPU := time.Since(start), processCPU()-cpuStart
	pprof.StopCPUProfile()
	failureSync := syncs.last()

	cancel()
	<-done
	c = nil
	alone := heap.Live()

	perEntry := func(b uint64) float64 { return float64(b) / float64(entries) }
	fmt.Printf("groups %d x buckets %d = %d bucket entries, %d TMs, %s, %d CPUs\n", *groups, *buckets, entries, *tms, runtime.Version(), runtime.NumCPU())
	fmt.Printf("program the switch:          %v (CPU of both: %v)\n", program.Round(time.Millisecond), programCPU.Round(time.Millisecond))
	fmt.Printf("TM failure reaches switch:   %v (CPU of both: %v; the controller's sync: %v; %d buckets moved)\n",
		failure.Round(time.Millisecond), failureCPU.Round(time.Millisecond), failureSync, *buckets/(*tms / *groups))
	fmt.Printf("switch heap after GC:        %6.1f MB  %6.0f bytes/entry\n", mb(alone-base), perEntry(alone-base))
	fmt.Printf("controller heap after GC:    %6.1f MB  %6.0f bytes/entry\n", mb(both-alone), perEntry(both-alone))
	return nil
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	ports := map[uint16]swswitch.Port{}
	for n := uint16(1); n <= 17; n++ {
		ports[n] = swswitch.NewPipePort(func([]byte) {})
	}
	sw := swswitch.New(1, ports, slog.New(slog.NewTextHandler(io.Discard, nil)))
	gs := grpc.NewServer(sw.Server().ServerOptions()...)
	sw.Server().Register(gs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go gs.Serve(ln)
	go func() { sw.Run(ctx); close(done) }()
	return ln.Addr().String(), func() { cancel(); gs.Stop(); <-done }, nil
}

// makeConfig is one switch, groups by VLAN of B buckets each, TMs spread
// over the groups and over 16 TM ports.
func makeConfig(addr string, groups, buckets, tms int) (*config.Config, error) {
	var s strings.Builder
	fmt.Fprintf(&s, "admin: {listen: \"127.0.0.1:0\"}\nbuckets: %d\nswitches:\n  - name: sw\n    address: %s\n    device_id: 1\n", buckets, addr)
	fmt.Fprintf(&s, "    ports:\n      - {port: 1, role: edge}\n")
	for p := 2; p <= 17; p++ {
		fmt.Fprintf(&s, "      - {port: %d, role: tm}\n", p)
	}
	s.WriteString("groups:\n")
	for g := 1; g <= groups; g++ {
		fmt.Fprintf(&s, "  - {name: g%d, id: %d, default_tm: t%d-1, rules: [{priority: 10, vlan: %d}]}\n", g, g, g, g)
	}
	s.WriteString("tms:\n")
	for i := range tms {
		g, k := i%groups+1, i/groups+1
		fmt.Fprintf(&s, "  - {name: t%d-%d, id: %d, group: g%d, ports: {sw: {port: %d, mac: \"02:00:00:00:%02x:%02x\"}}}\n",
			g, k, i+1, g, 2+i%16, (i+1)>>8, (i+1)&0xff)
	}
	return config.Parse("memory.yaml", []byte(s.String()))
}

func waitInSync(c *controller.Controller, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
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
	mu    sync.Mutex
	total time.Duration
}

func (h *syncTimes) Handle(ctx context.Context, r slog.Record) error {
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
