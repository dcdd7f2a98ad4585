// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/symdist/symdist/assign"
	"github.com/symdist/symdist/contract"
	"github.com/symdist/symdist/sim"
	"golang.org/x/term"
)

// defaultSweep is the bucket counts of the imbalance-vs-B sweep.
const defaultSweep = "256,512,1024,2048,4096,8192,16384,32768,65536"

// defaultTMSweep and defaultTMSweepBuckets are the TM and bucket counts of
// the table's imbalance-vs-N sweep.
const (
	defaultTMSweep        = "10,20,50,100,200,500,1000"
	defaultTMSweepBuckets = "4096,65536"
)

func newSimCmd() *cobra.Command {
	var (
		flows, tms, groups, buckets, maglevSize, workers int
		events, weights, sweep, plots                    string
		tmSweep, tmSweepBuckets                          string
		seed                                             uint64
		ipv6                                             float64
		asJSON, progress                                 bool
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate how well symdist distributes flows, at scale, against ECMP, bmv2's selector, Maglev and rendezvous hashing",
		Long: `sim draws --flows random connections (client address and ephemeral port to
a service on port 80 or 443; IPv4, and IPv6 with --ipv6), hashes the key of
each by the contract (CRC-32 of the greater-port side's address and port),
and distributes them over --tms weighted TMs tm1..tmN in --groups groups
(tmK is in group (K-1) mod G; the flows are split evenly over the groups).
Then it plays --events, one step each:

  fail:TM  recover:TM  add:TM[=W]  remove:TM  weight:TM=W

(an added TM must be named tmK). At every step it reports, for symdist (the
controller's own bucket assignment, B buckets per group) and four baselines
on the same flows (hash mod N, bmv2's action selector as PI programs it,
Maglev with a table of --maglev-size entries, weighted rendezvous hashing):
the imbalance (largest load over fair share), weight accuracy, the flows
moved against the ideal, and the table entries rewritten. It also sweeps the
imbalance over table sizes (--sweep).

--plots DIR writes PNG and SVG plots; --json prints every number as JSON.`,
		Example: `  symdist sim --flows 1000000 --tms 16 --groups 1 --buckets 4096 \
    --events "fail:tm3,recover:tm3,add:tm17,remove:tm5,weight:tm2=3" --seed 1 --plots /tmp/simplots`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case flows < 1 || flows > sim.MaxFlows:
				return fmt.Errorf("--flows %d: want 1 to %d", flows, sim.MaxFlows)
			case tms < 1 || tms > sim.MaxTMs:
				return fmt.Errorf("--tms %d: want 1 to %d", tms, sim.MaxTMs)
			case groups < 1 || groups > tms:
				return fmt.Errorf("--groups %d: want 1 to --tms (%d), as every group needs a TM", groups, tms)
			case flows < groups:
				return fmt.Errorf("--flows %d: want at least one flow per group (%d)", flows, groups)
			case !contract.IsPowerOfTwo(buckets) || buckets > assign.MaxBuckets:
				return fmt.Errorf("--buckets %d: want a power of two from 1 to %d", buckets, assign.MaxBuckets)
			case !sim.IsPrime(maglevSize):
				return fmt.Errorf("--maglev-size %d: want a prime such as 65537", maglevSize)
			case !(ipv6 >= 0 && ipv6 <= 1):
				return fmt.Errorf("--ipv6 %v: want a fraction from 0 to 1", ipv6)
			case workers < 0:
				return fmt.Errorf("--workers %d: want 0 (all cores) or more", workers)
			}
			evs, err := sim.ParseEvents(events)
			if err != nil {
				return fmt.Errorf("--events: %w", err)
			}
			ws, err := sim.ParseWeights(weights, tms)
			if err != nil {
				return err
			}
			sw, err := parseSweep("--sweep", sweep)
			if err != nil {
				return err
			}
			tsb, err := parseSweep("--tm-sweep-buckets", tmSweepBuckets)
			if err != nil {
				return err
			}
			ts, err := parseTMSweep(tmSweep)
			if err != nil {
				return err
			}
			cfg := sim.Config{
				Flows: flows, TMs: tms, Groups: groups, Buckets: buckets, Weights: ws,
				Events: evs, Seed: seed, IPv6: ipv6, MaglevSize: maglevSize, Sweep: sw, Workers: workers,
				TMSweep: ts, TMSweepBuckets: tsb,
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			if f, ok := stderr.(*os.File); progress || (ok && term.IsTerminal(int(f.Fd()))) {
				p := &progressLine{w: stderr}
				cfg.Progress = p.update
				defer p.clear()
			}
			res, err := sim.Simulate(cfg)
			if err != nil {
				return err
			}
			var files []string
			if plots != "" {
				if files, err = sim.WritePlots(res, plots); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			if err := res.WriteText(out); err != nil {
				return err
			}
			if len(files) > 0 {
				fmt.Fprintf(out, "\nplots: %s\n", strings.Join(files, " "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&flows, "flows", 1000000, "flows to simulate (8 bytes of memory each)")
	f.IntVar(&tms, "tms", 16, "TMs at the start, named tm1..tmN")
	f.IntVar(&groups, "groups", 1, "groups: tmK is in group (K-1) mod G, the flows are split evenly")
	f.IntVar(&buckets, "buckets", contract.DefaultBuckets, "symdist's bucket count B per group (a power of two)")
	f.StringVar(&events, "events", "", `steps, comma-separated: fail:TM, recover:TM, add:TM[=W], remove:TM, weight:TM=W`)
	f.StringVar(&weights, "weights", "", `initial weights: "tm2=3,tm5=2" (others 1), or "1,2,4" repeated over tm1..tmN`)
	f.Uint64Var(&seed, "seed", 1, "seed of the random flows")
	f.Float64Var(&ipv6, "ipv6", 0, "fraction of the flows that are IPv6 (0-1)")
	f.IntVar(&maglevSize, "maglev-size", sim.DefaultMaglevSize, "Maglev's lookup table size M (a prime)")
	f.StringVar(&sweep, "sweep", defaultSweep, `bucket counts for the imbalance-vs-B sweep ("" or "none": no sweep)`)
	f.StringVar(&tmSweep, "tm-sweep", defaultTMSweep, `TM counts N for the table's imbalance-vs-N sweep ("" or "none": no sweep)`)
	f.StringVar(&tmSweepBuckets, "tm-sweep-buckets", defaultTMSweepBuckets, "bucket counts B of the imbalance-vs-N sweep, a line each")
	f.StringVar(&plots, "plots", "", "write PNG and SVG plots into this directory")
	f.BoolVar(&asJSON, "json", false, "print all the numbers as JSON instead of tables")
	f.BoolVar(&progress, "progress", false, "show progress on stderr even when it is not a terminal")
	f.IntVar(&workers, "workers", 0, "goroutines (0: one per core)")
	return cmd
}

// parseSweep reads the bucket counts of flag name.
func parseSweep(name, s string) ([]int, error) {
	return parseInts(name, s, "powers of two from 1 to "+strconv.Itoa(assign.MaxBuckets), func(b int) bool {
		return contract.IsPowerOfTwo(b) && b <= assign.MaxBuckets
	})
}

func parseTMSweep(s string) ([]int, error) {
	return parseInts("--tm-sweep", s, "TM counts from 1 to "+strconv.Itoa(sim.MaxTMs), func(n int) bool {
		return n >= 1 && n <= sim.MaxTMs
	})
}

// parseInts reads a comma-separated list of numbers that ok accepts
// (what says which); "" or "none" is no list.
func parseInts(name, s, what string, ok func(int) bool) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return nil, nil
	}
	var ns []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || !ok(n) {
			return nil, fmt.Errorf("%s %q: want %s, comma-separated", name, f, what)
		}
		ns = append(ns, n)
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("%s: none given", name)
	}
	return ns, nil
}

// progressLine is one line on stderr, rewritten in place.
type progressLine struct {
	w     io.Writer
	start time.Time
	shown bool
}

func (p *progressLine) update(stage string, done, total int64) {
	if p.start.IsZero() {
		p.start = time.Now()
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	fmt.Fprintf(p.w, "\r\033[Ksim %5.1fs  %s: %3.0f%% of %d flows", time.Since(p.start).Seconds(), stage, pct, total)
	p.shown = true
}

func (p *progressLine) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}
