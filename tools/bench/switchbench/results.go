// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Markdown is the results as docs/performance.md records them: the
// lossless rate of each switch and frame size with its ratio to the
// bridge's and to bmv2's (built for speed), then every sweep trial.
func (r Results) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s; %s; lossless = 0 frames lost over a %s trial\n\n", r.Date, r.Machine, r.Trial)
	b.WriteString("| switch | frame bytes | highest lossless rate | vs Linux bridge | vs bmv2 (fast) |\n|---|---|---|---|---|\n")
	ref := func(name string, size int) float64 {
		for _, run := range r.Runs {
			if run.Switch == name && run.Size == size {
				return run.LosslessPPS
			}
		}
		return 0
	}
	ratio := func(v, base float64) string {
		if base == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", v/base)
	}
	for _, run := range r.Runs {
		at := ""
		if run.LosslessAtLeast {
			at = ">= "
		}
		fmt.Fprintf(&b, "| %s | %d | %s%.1f kpps | %s | %s |\n", run.Switch, run.Size, at, run.LosslessPPS/1000,
			ratio(run.LosslessPPS, ref("bridge", run.Size)), ratio(run.LosslessPPS, ref("bmv2-fast", run.Size)))
	}
	b.WriteString("\n| switch | frame bytes | offered kpps | sent kpps | delivered kpps | loss |\n|---|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		for _, t := range run.Sweep {
			short := ""
			if t.SenderShort {
				short = " (sender short)"
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %.1f%s | %.1f | %.3f%% |\n", run.Switch, run.Size, t.OfferedPPS/1000,
				t.SentPPS/1000, short, t.DeliveredPPS/1000, t.Loss*100)
		}
	}
	return b.String()
}

// writePlots draws delivered against offered rate, a line per switch, one plot
// per frame size, as PNG and SVG.
func writePlots(r Results, dir string) error {
	sizes := map[int]bool{}
	for _, run := range r.Runs {
		sizes[run.Size] = true
	}
	for size := range sizes {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("%d-byte frames: delivered vs offered", size)
		p.X.Label.Text = "offered (kpps)"
		p.Y.Label.Text = "delivered (kpps)"
		var lines []any
		maxRate := 0.0
		for _, run := range r.Runs {
			if run.Size != size {
				continue
			}
			pts := make(plotter.XYs, len(run.Sweep))
			for i, t := range run.Sweep {
				pts[i] = plotter.XY{X: float64(t.OfferedPPS) / 1000, Y: t.DeliveredPPS / 1000}
				maxRate = max(maxRate, pts[i].X)
			}
			lines = append(lines, run.Switch, pts)
		}
		ideal := plotter.NewFunction(func(x float64) float64 { return x })
		ideal.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(ideal)
		p.Legend.Add("offered (no loss)", ideal)
		if err := plotutil.AddLinePoints(p, lines...); err != nil {
			return err
		}
		p.X.Min, p.Y.Min, p.X.Max, p.Y.Max = 0, 0, maxRate, maxRate
		p.Legend.Top, p.Legend.Left = true, true
		for _, ext := range []string{"png", "svg"} {
			if err := p.Save(7*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, fmt.Sprintf("switchbench_%d.%s", size, ext))); err != nil {
				return err
			}
		}
	}
	return nil
}
