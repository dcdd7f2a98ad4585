// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"context"
	"fmt"

	"github.com/symdist/symdist/p4rt"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
)

// plan is the difference between what a switch holds and what it must
// hold, in the order it is written: make before break.
type plan struct {
	// phases, each one Write call (or more, in batches) after the one
	// before has succeeded, indexed by the constants below.
	phases [numPhases][]*p4v1.Update
}

// The phases of a plan, in the order they are written.
const (
	addMembers  = iota // new and changed members and multicast groups
	addEntries         // new and changed table entries (they may point at new members)
	dropEntries        // removed table entries
	dropMembers        // removed members and multicast groups (no entry uses them now)
	numPhases
)

func (p *plan) empty() bool {
	for _, ph := range p.phases {
		if len(ph) > 0 {
			return false
		}
	}
	return true
}

func (p *plan) size() int {
	n := 0
	for _, ph := range p.phases {
		n += len(ph)
	}
	return n
}

func isTableEntry(e *p4v1.Entity) bool { return e.GetTableEntry() != nil }

// diff plans how to go from current to want (both canonical). Entries
// equal in both are not touched, so a controller restart writes nothing.
func diff(current, want []*p4v1.Entity) *plan {
	have := make(map[string]*p4v1.Entity, len(current))
	for _, e := range current {
		have[entries.Key(e)] = e
	}
	p := &plan{}
	seen := make(map[string]bool, len(want))
	for _, e := range want {
		k := entries.Key(e)
		if seen[k] {
			continue
		}
		seen[k] = true
		phase := addMembers
		if isTableEntry(e) {
			phase = addEntries
		}
		switch old, ok := have[k]; {
		case !ok:
			p.phases[phase] = append(p.phases[phase], entries.Update(p4v1.Update_INSERT, e))
		case entries.Value(old) != entries.Value(e):
			p.phases[phase] = append(p.phases[phase], entries.Update(p4v1.Update_MODIFY, e))
		}
	}
	for _, e := range current {
		if seen[entries.Key(e)] {
			continue
		}
		phase := dropMembers
		if isTableEntry(e) {
			phase = dropEntries
		}
		p.phases[phase] = append(p.phases[phase], entries.Update(p4v1.Update_DELETE, e))
	}
	return p
}

// readState reads everything the controller manages from a switch.
func readState(ctx context.Context, s *p4rt.Session) ([]*p4v1.Entity, error) {
	es, err := s.Read(ctx, entries.Wildcards()...)
	if err != nil {
		return nil, fmt.Errorf("reading switch state: %w", err)
	}
	out := es[:0]
	for _, e := range es {
		// Default entries are the program's, not ours.
		if e.GetTableEntry().GetIsDefaultAction() {
			continue
		}
		// Counter data is not state.
		if te := e.GetTableEntry(); te != nil {
			te.CounterData, te.MeterConfig = nil, nil
		}
		out = append(out, entries.Canonicalize(e))
	}
	return out, nil
}

// apply writes a plan phase by phase.
func apply(ctx context.Context, s *p4rt.Session, p *plan) error {
	for i, ph := range p.phases {
		if len(ph) == 0 {
			continue
		}
		if err := s.Write(ctx, ph); err != nil {
			return fmt.Errorf("phase %d of %d: %w", i+1, len(p.phases), err)
		}
	}
	return nil
}
