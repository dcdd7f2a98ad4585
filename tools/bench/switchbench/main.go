// SPDX-License-Identifier: Apache-2.0

// Command switchbench measures how fast a switch forwards steered frames:
// an offered-load sweep (RFC 2544 style) through each switch in the same
// veth topology, in one run, with a paced sender (tcpreplay --pps) whose
// achieved rate is measured too, so a sender that cannot keep up is
// reported instead of being taken for a switch's limit.
//
//	sbench1h --veth-- sbench1s [switch] sbench2s..4s --veth-- sbench2h..4h
//	(tcpreplay sends)            edge port 1, TM ports 2-4      (delivered counted)
//
// The switches: a Linux bridge (the kernel alone: a static FDB entry sends
// every frame to one TM port), symdist's software switch (`symdist switch`),
// bmv2 simple_switch_grpc as built for debugging and as built for speed.
// The symdist ones are programmed by `symdist controller` from one config.
// Needs root, iproute2 and tcpreplay; bmv2 where given. `make bench-switch`.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/symdist/symdist/internal/p4tools"
)

type options struct {
	switches   []string
	sizes      []int
	rates      []int // kpps of the sweep; the lossless search runs between them
	trial      time.Duration
	symdist    string
	bmv2Debug  string
	bmv2Fast   string
	out        string
	searchStep float64
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "switchbench:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	var switches, sizes, rates string
	flag.StringVar(&switches, "switches", "bridge,software,software-socket,bmv2-fast,bmv2-debug", "switches to measure, in order")
	flag.StringVar(&sizes, "sizes", "64,512", "frame sizes in bytes (without FCS)")
	flag.StringVar(&rates, "rates", "5,10,20,50,100,150,200,250,300", "offered rates of the sweep, kpps")
	flag.DurationVar(&o.trial, "trial", 10*time.Second, "length of each trial (RFC 2544: 10 s for the lossless search)")
	flag.StringVar(&o.symdist, "symdist", "bin/symdist", "the symdist binary")
	// Where make toolchain installs the two builds (SYMDIST_P4_PREFIX).
	flag.StringVar(&o.bmv2Debug, "bmv2-debug", filepath.Join(p4tools.Prefix(), "bin", p4tools.BMv2), "bmv2 as built for debugging (logging macros on)")
	flag.StringVar(&o.bmv2Fast, "bmv2-fast", filepath.Join(p4tools.PerfPrefix(), "bin", p4tools.BMv2), "bmv2 built for speed (--disable-logging-macros --disable-elogger, -O3)")
	flag.StringVar(&o.out, "out", "docs/bench", "where the JSON results and plots go")
	flag.Float64Var(&o.searchStep, "search-resolution", 0.03, "the lossless search stops when its bounds are this close (fraction)")
	flag.Parse()
	o.switches = strings.Split(switches, ",")
	var err error
	if o.sizes, err = ints(sizes); err != nil {
		return fmt.Errorf("--sizes: %w", err)
	}
	if o.rates, err = ints(rates); err != nil {
		return fmt.Errorf("--rates: %w", err)
	}
	for _, s := range o.sizes {
		if s < 60 || s > 1500 {
			return fmt.Errorf("--sizes: %d is not a frame size from 60 to 1500", s)
		}
	}
	if why := missing(o); why != "" {
		return fmt.Errorf("cannot run: %s", why)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	topo, err := makeTopology()
	if err != nil {
		return err
	}
	defer topo.remove()

	res := Results{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(), Trial: o.trial.String()}
	for _, name := range o.switches {
		sw, ok := switchKinds[name]
		if !ok {
			return fmt.Errorf("--switches: unknown switch %q", name)
		}
		log.Info("starting", "switch", name)
		stopSwitch, err := sw.start(ctx, o, topo, log)
		if err != nil {
			if err == errSkip {
				log.Warn("skipped: binary not installed", "switch", name)
				continue
			}
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, size := range o.sizes {
			r, err := measure(ctx, o, topo, name, size, log)
			if err != nil {
				stopSwitch()
				return fmt.Errorf("%s, %d bytes: %w", name, size, err)
			}
			res.Runs = append(res.Runs, r)
		}
		stopSwitch()
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(o.out+"/switchbench.json", append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := writePlots(res, o.out); err != nil {
		return err
	}
	fmt.Print(res.Markdown())
	return nil
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func machine() string {
	host, _ := os.Hostname()
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	var uts syscall.Utsname
	_ = syscall.Uname(&uts)
	rel := make([]byte, 0, 65)
	for _, c := range uts.Release {
		if c == 0 {
			break
		}
		rel = append(rel, byte(c))
	}
	return fmt.Sprintf("%s, %d CPUs (%s), Linux %s", host, runtime.NumCPU(), cpu, rel)
}
