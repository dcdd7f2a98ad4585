// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/symdist/symdist/assign"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
)

// TMSweep is the bucket table's own imbalance (the most buckets of a TM
// over its fair share B/N, N TMs of equal weight in one group) against N,
// for each bucket count B: the imbalance with infinitely many flows, the
// part of it a larger B removes. The hash's noise comes on top and shrinks
// only with more flows.
type TMSweep struct {
	Buckets []int          `json:"buckets"`
	Points  []TMSweepPoint `json:"points"`
}

// TMSweepPoint is one N: Imbalance[i] is the table's imbalance at
// Buckets[i].
type TMSweepPoint struct {
	TMs       int       `json:"tms"`
	Imbalance []float64 `json:"imbalance"`
}

// SweepTMs computes the table's imbalance for every N in tms and B in
// buckets.
func SweepTMs(tms, buckets []int) (*TMSweep, error) {
	sw := &TMSweep{Buckets: buckets}
	for _, n := range tms {
		if n < 1 || n > MaxTMs {
			return nil, fmt.Errorf("TM sweep: %d TMs: want 1 to %d", n, MaxTMs)
		}
		list := make([]assign.TM, n)
		for i := range list {
			list[i] = assign.TM{Name: TMName(i + 1), Weight: 1, Up: true}
		}
		p := TMSweepPoint{TMs: n}
		for _, b := range buckets {
			t, err := assign.New(b, list)
			if err != nil {
				return nil, fmt.Errorf("TM sweep: %w", err)
			}
			most := 0
			for _, c := range t.Counts() {
				most = max(most, c)
			}
			p.Imbalance = append(p.Imbalance, float64(most)*float64(n)/float64(b))
		}
		sw.Points = append(sw.Points, p)
	}
	return sw, nil
}

// writeTMSweep prints the sweep as a table, one column per B.
func writeTMSweep(w io.Writer, sw *TMSweep) error {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "bucket table's own imbalance vs TMs (one group, equal weights; the most buckets of a TM over B/N)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "  N\t")
	for _, b := range sw.Buckets {
		fmt.Fprintf(tw, "B=%d\t", b)
	}
	fmt.Fprintln(tw)
	for _, p := range sw.Points {
		fmt.Fprintf(tw, "  %d\t", p.TMs)
		for _, v := range p.Imbalance {
			fmt.Fprintf(tw, "%.4f\t", v)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// tmSweepPlot is the table's imbalance (in percent over fair) against N,
// a line per B.
func tmSweepPlot(sw *TMSweep) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Bucket table's imbalance vs TMs (equal weights)"
	p.X.Label.Text = "TMs in the group (N)"
	p.Y.Label.Text = "imbalance: most buckets over B/N - 1 (%)"
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for _, pt := range sw.Points {
		ticks = append(ticks, plot.Tick{Value: float64(pt.TMs), Label: strconv.Itoa(pt.TMs)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	for i, b := range sw.Buckets {
		xys := make(plotter.XYs, len(sw.Points))
		for j, pt := range sw.Points {
			xys[j].X, xys[j].Y = float64(pt.TMs), 100*(pt.Imbalance[i]-1)
		}
		l, s, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		l.Color, s.Color, s.Shape = plotutil.Color(i), plotutil.Color(i), plotutil.Shape(i)
		p.Add(l, s)
		p.Legend.Add(fmt.Sprintf("B = %d", b), l, s)
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	return p, nil
}
