// SPDX-License-Identifier: Apache-2.0

package verify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/symdist/symdist/desired"

	"github.com/symdist/symdist/adminapi"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/vectors"
)

// TrafficOptions says what verify traffic sends through which switch.
type TrafficOptions struct {
	Target Target
	Ports  map[uint16]string // switch port -> the interface cabled to it here
	// Frames are sent on InPort (0: the switch's first edge port cabled
	// here), e.g. a pcap's; nil: Random packets of the conformance
	// generator, seeded with Seed, for the switch's own state (Profile).
	Frames [][]byte
	InPort uint16
	Random int
	Seed   uint64
	// Config, when given, says what the switch (Target.Name in it) must
	// hold, and the model holds that (ExpectedState, with Controller's
	// view when given); nil: the model holds the switch's live state, so
	// the switch is held against its own tables.
	Config     *config.Config
	Controller *adminapi.Client
	Burst      int
}

// Traffic reads the switch, opens its ports, sends the packets and
// compares what leaves with the model. An error means it could not check:
// the switch cannot be read or an interface cannot be opened.
func Traffic(ctx context.Context, o TrafficOptions) (*TrafficReport, error) {
	if len(o.Ports) == 0 {
		return nil, errors.New("no port is cabled: give --port N=IFACE")
	}
	if o.Frames == nil && o.Random <= 0 {
		return nil, fmt.Errorf("%d random packets: want 1 or more", o.Random)
	}
	snap, err := ReadTarget(ctx, o.Target)
	if err != nil {
		return nil, err
	}
	state, expected := snap.Entities, []*p4v1.Entity(nil)
	if o.Config != nil {
		if expected, err = ExpectedState(ctx, o.Config, o.Target.Name, o.Controller, snap); err != nil {
			return nil, err
		}
		state = expected
	}
	model, err := Model(state)
	if err != nil {
		return nil, err
	}
	hosts := map[uint16]*HostPort{}
	defer func() {
		for _, h := range hosts {
			h.Close()
		}
	}()
	for _, port := range slices.Sorted(maps.Keys(o.Ports)) {
		h, err := OpenHostPort(o.Ports[port])
		if err != nil {
			return nil, fmt.Errorf("port %d: %w", port, err)
		}
		hosts[port] = h
	}
	cabled := map[uint16]bool{}
	for port := range o.Ports {
		cabled[port] = true
	}
	var pkts []vectors.Packet
	profile, perr := Profile(snap, cabled)
	if o.Frames != nil {
		in := o.InPort
		if in == 0 {
			if perr != nil {
				return nil, fmt.Errorf("%w; or give --in-port", perr)
			}
			in = profile.ClientPort
		}
		if !cabled[in] {
			return nil, fmt.Errorf("port %d is not cabled here (--port %d=IFACE)", in, in)
		}
		for _, f := range o.Frames {
			pkts = append(pkts, vectors.Packet{Port: in, Frame: f})
		}
	} else {
		if perr != nil {
			return nil, perr
		}
		pkts = vectors.RandomFor(o.Random, o.Seed, profile)
	}
	r := &Runner{Ports: hosts, Model: model, Burst: o.Burst}
	rep, err := r.Run(pkts)
	if err != nil {
		return nil, err
	}
	rep.Switch = o.Target.Name
	if expected != nil {
		schema := model.Schema()
		for _, d := range diffState(snap.Entities, expected) {
			switch {
			case d.have == nil:
				rep.StateDifferences = append(rep.StateDifferences, "missing: "+describe(schema, d.want))
			case d.want == nil:
				rep.StateDifferences = append(rep.StateDifferences, "extra: "+describe(schema, d.have))
			default:
				rep.StateDifferences = append(rep.StateDifferences, fmt.Sprintf("holds %s; must hold %s", describe(schema, d.have), describe(schema, d.want)))
			}
		}
	}
	return rep, nil
}

// ExpectedState is what switch swName of cfg must hold: the controller's
// intent (its bucket tables, the TMs it has up) when ctrl is given;
// otherwise the tables a controller starting with the TMs presumed up
// (those holding buckets in live) computes.
func ExpectedState(ctx context.Context, cfg *config.Config, swName string, ctrl *adminapi.Client, live *Snapshot) ([]*p4v1.Entity, error) {
	var up map[string]bool
	var buckets map[string][]string
	var err error
	if ctrl != nil {
		if up, buckets, err = fromController(ctx, ctrl); err != nil {
			return nil, err
		}
	} else {
		up = newChecker(Expect{Config: cfg}, []*Snapshot{live}).up
		if buckets, err = desired.FreshBuckets(cfg, up); err != nil {
			return nil, err
		}
	}
	return desired.Expected(cfg, swName, buckets, up)
}
