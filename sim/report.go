// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteText writes the result as tables, one per step, and the sweep.
func (r *Result) WriteText(w io.Writer) error {
	proto := "IPv4"
	if r.IPv6 > 0 {
		proto = fmt.Sprintf("IPv4 and %.0f%% IPv6", 100*r.IPv6)
	}
	groups := "1 group"
	if r.Groups > 1 {
		groups = fmt.Sprintf("%d groups", r.Groups)
	}
	fmt.Fprintf(w, "symdist sim: %d flows (%s), %d TMs in %s, B = %d, Maglev M = %d, seed %d; %.1f s on %d workers\n",
		r.Flows, proto, r.TMs, groups, r.Buckets, r.MaglevSize, r.Seed, r.Seconds, r.Workers)
	fmt.Fprintln(w, "imbalance: largest flows/fair share of an up TM (max/mean for equal weights); min acc: the smallest")
	fmt.Fprintln(w, "moved: flows whose TM changed; ideal: the fewest that had to (the TM's own flows); displaced: flows not on their step-0 TM")
	for _, st := range r.Steps {
		fmt.Fprintln(w)
		up := 0
		for _, u := range st.Up {
			if u {
				up++
			}
		}
		if st.Index == 0 {
			fmt.Fprintf(w, "step 0: initial, %d TMs up\n", up)
		} else {
			fmt.Fprintf(w, "step %d: %s (group %d), %d TMs up; fair-share ideal %.0f flows (%.3f%%)\n",
				st.Index, st.Event, st.Group, up, st.FairIdeal, 100*st.FairIdeal/float64(r.Flows))
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		if st.Index == 0 {
			fmt.Fprintln(tw, "  scheme\timbalance\tmin acc\twrites\t")
		} else {
			fmt.Fprintln(tw, "  scheme\timbalance\tmin acc\tmoved\tmoved %\tideal\tmoved/ideal\twrites\tdisplaced\t")
		}
		for _, sc := range st.Schemes {
			if st.Index == 0 {
				fmt.Fprintf(tw, "  %s\t%.4f\t%.4f\t%d\t\n", sc.Scheme, sc.Imbalance, sc.MinAccuracy, sc.Writes)
				continue
			}
			ratio := "-"
			if sc.Ideal > 0 {
				ratio = fmt.Sprintf("%.3f", sc.MovedOverIdeal)
			}
			fmt.Fprintf(tw, "  %s\t%.4f\t%.4f\t%d\t%.3f%%\t%d\t%s\t%d\t%d\t\n", sc.Scheme, sc.Imbalance, sc.MinAccuracy,
				sc.Moved, 100*sc.MovedFraction, sc.Ideal, ratio, sc.Writes, sc.Displaced)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if sw := r.Sweep; sw != nil {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "imbalance vs table size, initial state (%d TMs); without a table size: mod-n %.4f, bmv2-selector %.4f, rendezvous %.4f\n",
			sw.TMs, sw.ModN, sw.Bmv2, sw.Rendezvous)
		fmt.Fprintln(w, "(table: the table's own imbalance, entries over fair share of entries)")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "  B\tsymdist\t(table)\tmaglev M\tmaglev\t(table)\t")
		for _, p := range sw.Points {
			fmt.Fprintf(tw, "  %d\t%.4f\t%.4f\t%d\t%.4f\t%.4f\t\n", p.Buckets, p.Symdist, p.SymdistBound, p.MaglevSize, p.Maglev, p.MaglevBound)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if r.TMSweep != nil {
		return writeTMSweep(w, r.TMSweep)
	}
	return nil
}
