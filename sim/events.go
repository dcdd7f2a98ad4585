// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"fmt"
	"strconv"
	"strings"
)

// EventKind is what happens to a TM at a step.
type EventKind string

// The events. fail and recover are a TM's port (or health check) going
// down and up: the TM stays configured. add and remove change the
// configuration. weight changes a TM's weight.
const (
	Fail    EventKind = "fail"
	Recover EventKind = "recover"
	Add     EventKind = "add"
	Remove  EventKind = "remove"
	Weight  EventKind = "weight"
)

// Event is one step of a simulation. Weight is the new weight of a weight
// event and the weight of an added TM (0 means 1).
type Event struct {
	Kind   EventKind `json:"kind"`
	TM     string    `json:"tm"`
	Weight int       `json:"weight,omitempty"`
}

func (e Event) String() string {
	switch {
	case e.Kind == Weight || (e.Kind == Add && e.Weight > 1):
		return fmt.Sprintf("%s:%s=%d", e.Kind, e.TM, e.Weight)
	}
	return fmt.Sprintf("%s:%s", e.Kind, e.TM)
}

// MaxWeight is the largest TM weight the simulator takes: the bmv2
// baseline programs a weight as that many copies of the member.
const MaxWeight = 1000

// ParseEvents parses a comma-separated event list:
//
//	fail:NAME  recover:NAME  add:NAME[=W]  remove:NAME  weight:NAME=W
//
// It checks the syntax only; Simulate checks the events against the TMs.
func ParseEvents(s string) ([]Event, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var evs []Event
	for i, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		kind, arg, ok := strings.Cut(f, ":")
		if !ok || arg == "" {
			return nil, fmt.Errorf("event %d %q: want KIND:TM (fail, recover, add, remove) or weight:TM=W", i+1, f)
		}
		ev := Event{Kind: EventKind(kind)}
		name, w, hasW := strings.Cut(arg, "=")
		ev.TM = name
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("event %d %q: %w", i+1, f, err)
		}
		switch ev.Kind {
		case Fail, Recover, Remove:
			if hasW {
				return nil, fmt.Errorf("event %d %q: %s takes no weight", i+1, f, kind)
			}
		case Add, Weight:
			if !hasW {
				if ev.Kind == Weight {
					return nil, fmt.Errorf("event %d %q: want weight:TM=W", i+1, f)
				}
				break
			}
			n, err := parseWeight(w)
			if err != nil {
				return nil, fmt.Errorf("event %d %q: %w", i+1, f, err)
			}
			ev.Weight = n
		default:
			return nil, fmt.Errorf("event %d %q: unknown kind %q (want fail, recover, add, remove or weight)", i+1, f, kind)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("empty TM name")
	}
	if strings.ContainsAny(name, ",:= \t") {
		return fmt.Errorf("TM name %q has one of , : = or a space", name)
	}
	return nil
}

func parseWeight(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxWeight {
		return 0, fmt.Errorf("weight %q is not an integer from 1 to %d", s, MaxWeight)
	}
	return n, nil
}

// TMName is the name of the i-th TM (from 1) of a simulation: tm1, tm2, ...
func TMName(i int) string { return "tm" + strconv.Itoa(i) }

// tmNumber returns k for a name tmk (k >= 1), or 0.
func tmNumber(name string) int {
	rest, ok := strings.CutPrefix(name, "tm")
	if !ok || rest == "" || rest[0] == '0' {
		return 0
	}
	k, err := strconv.Atoi(rest)
	if err != nil || k < 1 {
		return 0
	}
	return k
}

// GroupOf is the group of TM tmk: TMs are dealt to the groups in turn,
// tm1 to group 0, tm2 to group 1, ... (k-1) mod groups.
func GroupOf(k, groups int) int { return (k - 1) % groups }

// ParseWeights parses the initial weights of the TMs tm1..tmN: either a
// list of NAME=W (the others weigh 1), or a list of weights W1,W2,...
// repeated over tm1..tmN in turn ("1,2" gives tm1 1, tm2 2, tm3 1, ...).
// An empty string gives nil: every TM weighs 1.
func ParseWeights(s string, tms int) (map[string]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	fields := strings.Split(s, ",")
	ws := make(map[string]int)
	if !strings.Contains(s, "=") {
		cycle := make([]int, len(fields))
		for i, f := range fields {
			n, err := parseWeight(strings.TrimSpace(f))
			if err != nil {
				return nil, fmt.Errorf("--weights: %w", err)
			}
			cycle[i] = n
		}
		for i := 1; i <= tms; i++ {
			ws[TMName(i)] = cycle[(i-1)%len(cycle)]
		}
		return ws, nil
	}
	for _, f := range fields {
		name, w, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return nil, fmt.Errorf("--weights %q: mixes NAME=W and bare weights; use one form", f)
		}
		k := tmNumber(name)
		if k < 1 || k > tms {
			return nil, fmt.Errorf("--weights: unknown TM %q (the TMs are tm1..tm%d)", name, tms)
		}
		if _, dup := ws[name]; dup {
			return nil, fmt.Errorf("--weights: %s given twice", name)
		}
		n, err := parseWeight(w)
		if err != nil {
			return nil, fmt.Errorf("--weights %s: %w", name, err)
		}
		ws[name] = n
	}
	return ws, nil
}
