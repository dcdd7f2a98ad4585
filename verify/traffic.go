// SPDX-License-Identifier: Apache-2.0

package verify

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/symdist/symdist/swmodel"
	"github.com/symdist/symdist/vectors"
)

// Output is one frame leaving one port.
type Output struct {
	Port  uint16 `json:"port"`
	Frame string `json:"frame"` // hex
}

// Difference is one packet whose outputs differ from the model's: what
// the model sends that did not leave the switch (Want), and what left that
// the model does not send (Got).
type Difference struct {
	// Packet is the index of the packet in what was sent; -1 when no sent
	// packet explains a frame that left.
	Packet int      `json:"packet"`
	InPort uint16   `json:"in_port"`
	Reason string   `json:"reason"` // the model's steering reason (ReasonSummary)
	Group  uint16   `json:"group,omitempty"`
	Bucket *uint16  `json:"bucket,omitempty"` // when the packet has a key
	Trace  string   `json:"trace"`            // the model's decision
	Want   []Output `json:"want"`
	Got    []Output `json:"got"`
}

// ReasonSummary counts packets by the model's steering reason: hashed,
// equal_ports, fragment, other_protocol, icmp_error, echo, direct,
// bridged, flooded, "drop <cause>".
type ReasonSummary struct {
	Reason string `json:"reason"`
	Sent   int    `json:"sent"`
	Differ int    `json:"differ"`
}

// TrafficReport is the result of verify traffic.
type TrafficReport struct {
	Switch string `json:"switch"`
	Sent   int    `json:"sent"`
	// NotSent are packets on ports not cabled here, or frames Linux
	// cannot carry (a VLAN tag cut short).
	NotSent  int `json:"not_sent"`
	Expected int `json:"expected_frames"`
	Received int `json:"received_frames"`
	// Seconds from the first packet sent to the last output awaited.
	Seconds     float64         `json:"seconds"`
	Differences []Difference    `json:"differences"`
	ByReason    []ReasonSummary `json:"by_reason"`
	// StateDifferences are how the switch's live state differs from the
	// state the model held (when that was not the live state).
	StateDifferences []string `json:"state_differences,omitempty"`
}

// Runner sends packets through a switch and compares what leaves with the
// model.
type Runner struct {
	Ports map[uint16]*HostPort // the switch ports cabled here
	Model *swmodel.Pipeline    // holding the state the switch must hold
	// Burst is how many packets are sent before waiting for their
	// outputs (bmv2 drops from larger bursts); 0: 50.
	Burst int
	// Wait bounds the wait for a burst's outputs; 0: 10 s. Once a burst
	// times out, the rest wait no longer than Settle each.
	Wait time.Duration
	// Settle is how long to wait after the last output for any extra
	// frame; 0: 150 ms.
	Settle time.Duration
}

// reasonOf names how the model handled a packet.
func reasonOf(tr swmodel.Trace, ports []uint16) string {
	switch {
	case tr.Drop != swmodel.DropNone:
		return "drop " + tr.Drop.String()
	case tr.Steered:
		return tr.Reason.String()
	case tr.Multicast != 0:
		return "flooded"
	case len(ports) == 0:
		return "dropped"
	}
	return "bridged"
}

// body is a frame without its destination MAC: what a switch keeps of
// it whichever TM (MAC and port) it picks.
func body(frame []byte) string {
	if len(frame) < 6 {
		return hex.EncodeToString(frame)
	}
	return hex.EncodeToString(frame[6:])
}

type portFrame struct {
	port  uint16
	frame string
}

// captured is the number of frames captured on every port so far.
func (r *Runner) captured() int {
	n := 0
	for _, h := range r.Ports {
		n += h.Count()
	}
	return n
}

// waitFor waits until n frames were captured, or timeout; it reports
// whether they were.
func (r *Runner) waitFor(n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for r.captured() < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// Drain forgets what was captured so far.
func (r *Runner) Drain() {
	for _, h := range r.Ports {
		h.Take()
	}
}

// Run sends pkts (in order, in bursts), captures what leaves every port
// cabled here and compares it with the model's outputs, packet for
// packet. Outputs to ports not cabled here are not compared.
func (r *Runner) Run(pkts []vectors.Packet) (*TrafficReport, error) {
	burst, wait, settle := cmp.Or(r.Burst, 50), cmp.Or(r.Wait, 10*time.Second), cmp.Or(r.Settle, 150*time.Millisecond)
	rep := &TrafficReport{Differences: []Difference{}}
	type sent struct {
		pkt    vectors.Packet
		trace  swmodel.Trace
		reason string
		want   []portFrame
	}
	var done []sent
	var res swmodel.Result
	reasons := map[string]*ReasonSummary{}
	var reasonOrder []string
	r.Drain()
	start := time.Now()
	expected := 0
	for _, p := range pkts {
		h := r.Ports[p.Port]
		if h == nil || !CrossesLink(p.Frame) {
			rep.NotSent++
			continue
		}
		r.Model.Process(p.Port, p.Frame, &res)
		s := sent{pkt: p, trace: res.Trace, reason: reasonOf(res.Trace, res.Ports)}
		for _, port := range res.Ports {
			if r.Ports[port] != nil {
				s.want = append(s.want, portFrame{port, hex.EncodeToString(res.Frame)})
			}
		}
		if reasons[s.reason] == nil {
			reasons[s.reason] = &ReasonSummary{Reason: s.reason}
			reasonOrder = append(reasonOrder, s.reason)
		}
		reasons[s.reason].Sent++
		if err := h.Send(p.Frame); err != nil {
			return nil, fmt.Errorf("sending packet %d on port %d: %w", len(done), p.Port, err)
		}
		expected += len(s.want)
		done = append(done, s)
		if len(done)%burst == 0 {
			if !r.waitFor(expected, wait) {
				// The switch lost frames or is stuck: later bursts wait
				// only as long as a straggler would take.
				wait = settle
			}
		}
	}
	r.waitFor(expected, wait)
	rep.Seconds = time.Since(start).Seconds()
	time.Sleep(settle)
	rep.Sent, rep.Expected = len(done), expected

	// What left, against what the model sends: first exact matches, then
	// a missing frame and an extra one with the same body are one packet
	// gone the wrong way, then an extra frame is put down to the packet
	// whose body it carries.
	wantBy := map[portFrame][]int{}
	for i, s := range done {
		for _, w := range s.want {
			wantBy[w] = append(wantBy[w], i)
		}
	}
	var extra []portFrame
	for _, port := range slices.Sorted(maps.Keys(r.Ports)) {
		for _, f := range r.Ports[port].Take() {
			rep.Received++
			pf := portFrame{port, hex.EncodeToString(f)}
			if is := wantBy[pf]; len(is) > 0 {
				wantBy[pf] = is[1:]
				continue
			}
			extra = append(extra, pf)
		}
	}
	diffs := map[int]*Difference{}
	diff := func(i int) *Difference {
		if d := diffs[i]; d != nil {
			return d
		}
		d := &Difference{Packet: i}
		if i >= 0 {
			s := done[i]
			d.InPort, d.Reason, d.Trace, d.Group = s.pkt.Port, s.reason, s.trace.String(), s.trace.Group
			if s.trace.HasKey {
				b := s.trace.Bucket
				d.Bucket = &b
			}
		}
		diffs[i] = d
		return d
	}
	missingByBody := map[string][]portFrame{}
	missingOf := map[portFrame][]int{}
	for _, pf := range sortedPortFrames(wantBy) {
		for _, i := range wantBy[pf] {
			b := body(mustHex(pf.frame))
			missingByBody[b] = append(missingByBody[b], pf)
			missingOf[pf] = append(missingOf[pf], i)
		}
	}
	sentByBody := map[string]int{}
	for i := len(done) - 1; i >= 0; i-- {
		sentByBody[body(done[i].pkt.Frame)] = i
	}
	for _, x := range extra {
		b := body(mustHex(x.frame))
		if ms := missingByBody[b]; len(ms) > 0 {
			m := ms[0]
			missingByBody[b] = ms[1:]
			i := missingOf[m][0]
			missingOf[m] = missingOf[m][1:]
			d := diff(i)
			d.Want = append(d.Want, Output{m.port, m.frame})
			d.Got = append(d.Got, Output{x.port, x.frame})
			continue
		}
		i, ok := sentByBody[b]
		if !ok {
			i = -1
		}
		d := diff(i)
		d.Got = append(d.Got, Output{x.port, x.frame})
	}
	for _, pf := range sortedPortFrames(missingOf) {
		for _, i := range missingOf[pf] {
			d := diff(i)
			d.Want = append(d.Want, Output{pf.port, pf.frame})
		}
	}
	for _, i := range slices.Sorted(maps.Keys(diffs)) {
		d := diffs[i]
		rep.Differences = append(rep.Differences, *d)
		if i >= 0 {
			reasons[done[i].reason].Differ++
		}
	}
	for _, reason := range reasonOrder {
		rep.ByReason = append(rep.ByReason, *reasons[reason])
	}
	return rep, nil
}

func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}

func sortedPortFrames[V any](m map[portFrame]V) []portFrame {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b portFrame) int {
		if a.port != b.port {
			return int(a.port) - int(b.port)
		}
		return strings.Compare(a.frame, b.frame)
	})
	return keys
}

// byteDiff says where two hex frames differ.
func byteDiff(a, b string) string {
	x, y := mustHex(a), mustHex(b)
	if len(x) != len(y) {
		return fmt.Sprintf("%d bytes, not %d", len(y), len(x))
	}
	var at []int
	for i := range x {
		if x[i] != y[i] {
			at = append(at, i)
		}
	}
	if len(at) == 0 {
		return "same bytes"
	}
	return "bytes " + ranges(at) + " differ"
}

// maxListedDiffs is how many differences the human summary lists.
const maxListedDiffs = 50

// String is the difference on one line.
func (d Difference) String() string {
	var b strings.Builder
	if d.Packet >= 0 {
		fmt.Fprintf(&b, "packet %d (in port %d, %s)", d.Packet, d.InPort, d.Trace)
	} else {
		b.WriteString("a frame no packet sent explains")
	}
	switch {
	case len(d.Want) == 1 && len(d.Got) == 1:
		fmt.Fprintf(&b, ": want port %d, left on port %d (%s)", d.Want[0].Port, d.Got[0].Port, byteDiff(d.Want[0].Frame, d.Got[0].Frame))
	default:
		for _, w := range d.Want {
			fmt.Fprintf(&b, "; want on port %d, did not leave: %.64s", w.Port, w.Frame)
		}
		for _, g := range d.Got {
			fmt.Fprintf(&b, "; left on port %d, the model sends nothing like it there: %.64s", g.Port, g.Frame)
		}
	}
	return b.String()
}

// Print writes the report for people.
func (r *TrafficReport) Print(w io.Writer) {
	fmt.Fprintf(w, "%s: %d packets sent (%d not sent: port not cabled here or frame Linux cannot carry), %d frames expected, %d received\n",
		r.Switch, r.Sent, r.NotSent, r.Expected, r.Received)
	if len(r.StateDifferences) > 0 {
		fmt.Fprintf(w, "\nthe switch's state differs from what it must hold (%d):\n", len(r.StateDifferences))
		printSome(w, r.StateDifferences, perCheck)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REASON\tSENT\tDIFFER")
	for _, s := range r.ByReason {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", s.Reason, s.Sent, s.Differ)
	}
	tw.Flush()
	if len(r.Differences) == 0 {
		fmt.Fprintln(w, "\nok: every packet left as the model says")
		return
	}
	fmt.Fprintf(w, "\n%d packets differ from the model:\n", len(r.Differences))
	printSome(w, r.Differences, maxListedDiffs)
}

// printSome writes the first max items, one a line, indented.
func printSome[T any](w io.Writer, items []T, max int) {
	for i, x := range items {
		if i == max {
			fmt.Fprintf(w, "  ... and %d more (--json lists all)\n", len(items)-max)
			return
		}
		fmt.Fprintf(w, "  %v\n", x)
	}
}
