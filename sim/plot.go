// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// WritePlots writes the result's plots into dir (created if need be), each
// as PNG and SVG, and returns the files written:
//
//   - load_stepK: per scheme, each TM's load over its fair share after step K
//   - moved: flows moved at each event, per scheme and the fair-share ideal
//   - imbalance_vs_buckets: imbalance against the table size (with a sweep)
//   - imbalance_vs_tms: the table's imbalance against N, a line per B (with
//     a TM sweep)
func WritePlots(r *Result, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	save := func(name string, w, h vg.Length, rows [][]*plot.Plot) error {
		for _, ext := range []string{"png", "svg"} {
			path := filepath.Join(dir, name+"."+ext)
			if err := saveTiles(rows, w, h, ext, path); err != nil {
				return fmt.Errorf("plot %s: %w", path, err)
			}
			files = append(files, path)
		}
		return nil
	}
	for _, st := range r.Steps {
		rows, err := loadPlots(r, &st)
		if err != nil {
			return files, err
		}
		if err := save(fmt.Sprintf("load_step%d", st.Index), 10*vg.Inch, vg.Length(len(rows))*2.2*vg.Inch, rows); err != nil {
			return files, err
		}
	}
	if len(r.Steps) > 1 {
		p, err := movedPlot(r)
		if err != nil {
			return files, err
		}
		if err := save("moved", 10*vg.Inch, 5*vg.Inch, [][]*plot.Plot{{p}}); err != nil {
			return files, err
		}
	}
	if r.Sweep != nil && len(r.Sweep.Points) > 0 {
		p, err := sweepPlot(r)
		if err != nil {
			return files, err
		}
		if err := save("imbalance_vs_buckets", 8*vg.Inch, 5*vg.Inch, [][]*plot.Plot{{p}}); err != nil {
			return files, err
		}
	}
	if r.TMSweep != nil && len(r.TMSweep.Points) > 0 {
		p, err := tmSweepPlot(r.TMSweep)
		if err != nil {
			return files, err
		}
		if err := save("imbalance_vs_tms", 8*vg.Inch, 5*vg.Inch, [][]*plot.Plot{{p}}); err != nil {
			return files, err
		}
	}
	return files, nil
}

// saveTiles draws the plots in a grid (rows of equal length) into one file.
func saveTiles(rows [][]*plot.Plot, w, h vg.Length, format, path string) (err error) {
	c, err := draw.NewFormattedCanvas(w, h, format)
	if err != nil {
		return err
	}
	dc := draw.New(c)
	t := draw.Tiles{Rows: len(rows), Cols: len(rows[0]), PadX: vg.Millimeter, PadY: 2 * vg.Millimeter,
		PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: 2 * vg.Millimeter}
	canvases := plot.Align(rows, t, dc)
	for i := range rows {
		for j, p := range rows[i] {
			p.Draw(canvases[i][j])
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if e := f.Close(); err == nil {
			err = e
		}
	}()
	_, err = c.WriteTo(f)
	return err
}

// loadPlots is one bar chart per scheme: per TM, (flows / fair share - 1)
// in percent; TMs not up have no bar.
func loadPlots(r *Result, st *Step) ([][]*plot.Plot, error) {
	n := len(st.Up)
	var down []string
	for id, u := range st.Up {
		if !u && st.Weights[id] > 0 {
			down = append(down, r.TMNames[id])
		}
	}
	var rows [][]*plot.Plot
	for k, sc := range st.Schemes {
		p := plot.New()
		title := fmt.Sprintf("%s, step %d (%s): load per TM vs fair share, imbalance %.4f", sc.Scheme, st.Index, st.Event, sc.Imbalance)
		if len(down) > 0 && len(down) <= 4 {
			title += fmt.Sprintf("; down or removed: %v", down)
		}
		p.Title.Text = title
		p.Y.Label.Text = "load - fair (%)"
		if k == len(st.Schemes)-1 {
			p.X.Label.Text = "TM"
		}
		vals := make(plotter.Values, n)
		for id := range vals {
			if st.Up[id] {
				vals[id] = 100 * (sc.Accuracy[id] - 1)
			}
		}
		width := vg.Length(math.Max(0.3, math.Min(12, 600/float64(n))))
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		bars.Color = plotutil.Color(k)
		bars.LineStyle.Width = 0
		p.Add(plotter.NewGrid(), bars)
		if n <= 32 {
			p.NominalX(r.TMNames[:n]...)
		}
		rows = append(rows, []*plot.Plot{p})
	}
	return rows, nil
}

// movedPlot is grouped bars: per event, the flows moved by each scheme and
// the fair-share ideal, in percent of all flows.
func movedPlot(r *Result) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Flows moved per event (%d flows, %d TMs, B = %d, Maglev M = %d)", r.Flows, r.TMs, r.Buckets, r.MaglevSize)
	p.Y.Label.Text = "flows moved (% of all flows)"
	steps := r.Steps[1:]
	var labels []string
	for _, st := range steps {
		labels = append(labels, st.Event)
	}
	series := len(Schemes) + 1
	w := vg.Length(math.Min(14, 480/float64(series*len(steps))))
	for k := range series {
		vals := make(plotter.Values, len(steps))
		name := "ideal (fair share)"
		for i, st := range steps {
			if k < len(Schemes) {
				vals[i] = 100 * st.Schemes[k].MovedFraction
			} else {
				vals[i] = 100 * st.FairIdeal / float64(r.Flows)
			}
		}
		if k < len(Schemes) {
			name = Schemes[k].Name
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		bars.Color = plotutil.Color(k)
		if k == len(Schemes) {
			bars.Color = color.Gray{Y: 0x60}
		}
		bars.LineStyle.Width = 0
		bars.Offset = w * (vg.Length(k) - vg.Length(series-1)/2)
		p.Add(bars)
		p.Legend.Add(name, bars)
		// The value on top of each bar: the small ones are what matters.
		xyl := plotter.XYLabels{XYs: make(plotter.XYs, len(vals)), Labels: make([]string, len(vals))}
		for i, v := range vals {
			xyl.XYs[i] = plotter.XY{X: float64(i), Y: v}
			xyl.Labels[i] = " " + percent(v)
		}
		labels, err := plotter.NewLabels(xyl)
		if err != nil {
			return nil, err
		}
		for i := range labels.TextStyle {
			labels.TextStyle[i].Font.Size = vg.Points(7)
			labels.TextStyle[i].Rotation = math.Pi / 2
			labels.TextStyle[i].XAlign = draw.XLeft
			labels.TextStyle[i].YAlign = draw.YCenter
		}
		labels.Offset = vg.Point{X: bars.Offset}
		p.Add(labels)
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	p.NominalX(labels...)
	// Room above the bars for the legend, and beside the outer groups.
	p.Y.Min = 0
	p.Y.Max *= 1.6
	p.X.Min = -0.75
	p.X.Max = float64(len(steps)) - 0.25
	return p, nil
}

// sweepPlot is the imbalance (in percent over fair) against the table size.
func sweepPlot(r *Result) (*plot.Plot, error) {
	sw := r.Sweep
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Imbalance vs table size (%d flows, %d TMs)", r.Flows, sw.TMs)
	p.X.Label.Text = "table size (symdist B; Maglev M = next prime)"
	p.Y.Label.Text = "imbalance: max load over fair share - 1 (%)"
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for _, pt := range sw.Points {
		ticks = append(ticks, plot.Tick{Value: float64(pt.Buckets), Label: strconv.Itoa(pt.Buckets)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	line := func(i int, name string, f func(SweepPoint) float64, dashed bool) error {
		xys := make(plotter.XYs, len(sw.Points))
		for j, pt := range sw.Points {
			xys[j].X = float64(pt.Buckets)
			xys[j].Y = 100 * (f(pt) - 1)
		}
		l, s, err := plotter.NewLinePoints(xys)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		s.Color = plotutil.Color(i)
		s.Shape = plotutil.Shape(i)
		if dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l, s)
		p.Legend.Add(name, l, s)
		return nil
	}
	if err := line(schSymdist, "symdist", func(pt SweepPoint) float64 { return pt.Symdist }, false); err != nil {
		return nil, err
	}
	if err := line(schSymdist, "symdist table alone", func(pt SweepPoint) float64 { return pt.SymdistBound }, true); err != nil {
		return nil, err
	}
	if err := line(schMaglev, "maglev", func(pt SweepPoint) float64 { return pt.Maglev }, false); err != nil {
		return nil, err
	}
	if err := line(schMaglev, "maglev table alone", func(pt SweepPoint) float64 { return pt.MaglevBound }, true); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		k int
		v float64
	}{{schModN, sw.ModN}, {schBmv2, sw.Bmv2}, {schRendezvous, sw.Rendezvous}} {
		if err := line(c.k, Schemes[c.k].Name+" (no table)", func(SweepPoint) float64 { return c.v }, true); err != nil {
			return nil, err
		}
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	return p, nil
}

// percent formats a percentage with about three significant digits.
func percent(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 10:
		return fmt.Sprintf("%.1f%%", v)
	case v >= 1:
		return fmt.Sprintf("%.2f%%", v)
	}
	return fmt.Sprintf("%.3f%%", v)
}
