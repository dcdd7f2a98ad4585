// SPDX-License-Identifier: Apache-2.0

package verify

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// where names the switches and group of a problem.
func (p Problem) where() string {
	where := strings.Join(p.Switches, ", ")
	if p.Group != "" {
		where += " group " + p.Group
	}
	return where
}

// String is the problem on one line.
func (p Problem) String() string { return fmt.Sprintf("%s: %s: %s", p.Check, p.where(), p.Message) }

// perCheck is how many problems of one check the human summary lists.
const perCheck = 20

// Print writes the report for people: what was read, then the problems by
// check (at most perCheck each; --json has them all), then the verdict.
func (r *StateReport) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SWITCH\tADDRESS\tDEVICE\tENTITIES\tCOUNTER CELLS\tGROUPS (buckets by TM, default TM)")
	for _, s := range r.Switches {
		var gs []string
		for _, g := range s.Groups {
			var tms []string
			for tm, n := range g.ByTM {
				tms = append(tms, fmt.Sprintf("%s %d", tm, n))
			}
			slices.Sort(tms)
			gs = append(gs, fmt.Sprintf("%s: %d (%s), default %s", g.Name, g.Buckets, strings.Join(tms, ", "), orNone(g.DefaultTM)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", s.Name, s.Address, s.DeviceID, s.Entities, s.CounterCells, strings.Join(gs, "; "))
	}
	tw.Flush()
	fmt.Fprintf(w, "TMs up: from %s\n", r.UpSource)
	var order []string
	by := map[string][]Problem{}
	for _, p := range r.Problems {
		if by[p.Check] == nil {
			order = append(order, p.Check)
		}
		by[p.Check] = append(by[p.Check], p)
	}
	for _, check := range order {
		ps := by[check]
		fmt.Fprintf(w, "\n%s (%d):\n", check, len(ps))
		lines := make([]string, len(ps))
		for i, p := range ps {
			lines[i] = p.where() + ": " + p.Message
		}
		printSome(w, lines, perCheck)
	}
	if len(r.Problems) == 0 {
		fmt.Fprintf(w, "\nok: %d switches hold what they must\n", len(r.Switches))
	} else {
		fmt.Fprintf(w, "\n%d problems\n", len(r.Problems))
	}
}
