// SPDX-License-Identifier: Apache-2.0

// Package verify holds a live switch against the software model: `symdist
// verify state` reads every entity back over P4Runtime and checks the
// contract's guarantees (docs/verify.md), `symdist verify traffic` sends
// packets through the switch's ports and compares what leaves with what
// the model says, packet for packet. Neither ever writes to a switch: it
// reads without an election id and opens no arbitration stream, so the
// primary controller is never disturbed.
//
// A switch is read with GetForwardingPipelineConfig and Read only
// (p4rt.ReadEntities): its P4Info is compared with symdist's (p4info.Diff), and
// its entries, members, multicast groups and counters are loaded into the
// model. Check holds them against package desired's expected state, with
// the TMs that are up taken from the controller, from one health check per
// TM (package health) or presumed from the buckets. Auditor is the
// controller's periodic audit and CheckDeployment the lab's; both take a
// Deployment, so verify links desired and p4rt but never the controller
// daemon.
//
// Traffic comparison takes exact matches first; then a missing frame and
// an extra one with the same bytes after the destination MAC are one
// packet gone the wrong way. test/conformance sends its vectors and
// random packets through the same Runner. test/verifytest holds what the
// tests run: software switches that log every P4Runtime call, figure 3
// programmed by the controller, and a server running another program.
package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/symdist/symdist/p4rt"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swmodel"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Snapshot is what one switch holds, read back over P4Runtime.
type Snapshot struct {
	Name     string
	Address  string
	DeviceID uint64
	Cookie   uint64 // of the pipeline it runs; 0 when it has none
	// Entities are its table entries (not the program's default entries),
	// action-profile members and multicast groups, canonical.
	Entities []*p4v1.Entity
	Counters []*p4v1.Entity // every counter cell of the pipeline
	// CounterErr says why the counters could not be read, or "".
	CounterErr string
	// Ports is how its P4Info types the port fields: the built-in
	// P4Info's, or the Tofino build's translated ones. Entities hold
	// ports canonical either way, and they decode the same.
	Ports p4info.Ports
}

// programPorts checks that info, a switch's P4Info, is symdist's: the
// built-in P4Info, or the built-in one with its ports translated as the
// Tofino build declares them (p4info.TranslatedPorts). It returns how
// info types the ports.
func programPorts(builtin *p4info.Schema, info *p4configv1.P4Info) (p4info.Ports, error) {
	want, ports := builtin.Info, p4info.BuiltinPorts
	if s, err := p4info.NewSchema(info); err == nil {
		if p, err := s.ResolvePorts(); err == nil && p.Translated() {
			want, ports = p4info.TranslatedPorts(builtin.Info), p
		}
	}
	if d := p4info.Diff(want, info); len(d) > 0 {
		return p4info.Ports{}, fmt.Errorf("%d differences from symdist's P4Info: %s", len(d), oneLine(d))
	}
	return ports, nil
}

// ErrOtherProgram is wrapped by the error of a switch that runs a program
// that is not symdist's.
var ErrOtherProgram = errors.New("runs another program")

// ErrNoPipeline is wrapped by the error of a switch that has no program
// for the device id asked: none was pushed yet, or the device id is wrong
// (bmv2 answers both alike).
var ErrNoPipeline = errors.New("has no pipeline")

// maxListed is how many differences a one-line error names.
const maxListed = 4

// oneLine joins items for an error message, naming at most maxListed.
func oneLine(items []string) string {
	if len(items) <= maxListed {
		return strings.Join(items, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(items[:maxListed], "; "), len(items)-maxListed)
}

// rpcError turns a failed call to a switch into a sentence.
func rpcError(addr string, deviceID uint64, err error) error {
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded:
		return fmt.Errorf("cannot reach the switch at %s: %s", addr, st.Message())
	case codes.NotFound, codes.InvalidArgument:
		return fmt.Errorf("the switch at %s does not serve device id %d: %s", addr, deviceID, st.Message())
	}
	return fmt.Errorf("switch at %s: %v: %s", addr, st.Code(), st.Message())
}

// Read reads everything a switch holds, through conn, for device
// deviceID. It only calls GetForwardingPipelineConfig and Read: no
// election id, no stream, no write. A switch that runs another program is
// an error wrapping ErrOtherProgram that says what differs; one without a
// program for deviceID wraps ErrNoPipeline.
func Read(ctx context.Context, conn grpc.ClientConnInterface, name, addr string, deviceID uint64) (*Snapshot, error) {
	client := p4v1.NewP4RuntimeClient(conn)
	cfg, err := client.GetForwardingPipelineConfig(ctx, &p4v1.GetForwardingPipelineConfigRequest{
		DeviceId: deviceID, ResponseType: p4v1.GetForwardingPipelineConfigRequest_P4INFO_AND_COOKIE,
	})
	if status.Code(err) == codes.FailedPrecondition {
		return nil, fmt.Errorf("switch %s %w for device id %d (a wrong device id, or no program pushed yet): %s", name, ErrNoPipeline, deviceID, status.Convert(err).Message())
	}
	if err != nil {
		return nil, rpcError(addr, deviceID, err)
	}
	schema := p4info.MustLoad()
	if cfg.GetConfig().GetP4Info() == nil {
		return nil, fmt.Errorf("switch %s %w: it reports no P4Info for device id %d", name, ErrNoPipeline, deviceID)
	}
	ports, err := programPorts(schema, cfg.GetConfig().GetP4Info())
	if err != nil {
		return nil, fmt.Errorf("switch %s %w: %v", name, ErrOtherProgram, err)
	}
	s := &Snapshot{Name: name, Address: addr, DeviceID: deviceID, Cookie: cfg.GetConfig().GetCookie().GetCookie(), Ports: ports}
	// Bounded by symdist's P4Info, which the switch's was just found to be.
	es, err := p4rt.ReadEntities(ctx, client, deviceID, nil, entries.Wildcards()...)
	if refused := (*p4rt.RefusedError)(nil); errors.As(err, &refused) {
		return nil, fmt.Errorf("switch %s at %s: %w", name, addr, err)
	}
	if err != nil {
		return nil, rpcError(addr, deviceID, err)
	}
	for _, e := range es {
		te := e.GetTableEntry()
		if te.GetIsDefaultAction() {
			continue // the program's, not the controller's
		}
		if te != nil {
			te.CounterData, te.MeterConfig = nil, nil
		}
		s.Entities = append(s.Entities, entries.Canonicalize(e))
	}
	var counters []*p4v1.Entity
	for id := range schema.Counters {
		counters = append(counters, &p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{CounterId: id}}})
	}
	s.Counters, err = p4rt.ReadEntities(ctx, client, deviceID, nil, counters...)
	if refused := (*p4rt.RefusedError)(nil); errors.As(err, &refused) {
		s.CounterErr = err.Error()
	} else if err != nil {
		s.CounterErr = status.Convert(err).Message()
	}
	return s, nil
}

// Model returns the software model holding es.
func Model(es []*p4v1.Entity) (*swmodel.Pipeline, error) {
	return modelWith(p4info.MustLoad(), es)
}

func modelWith(schema *p4info.Schema, es []*p4v1.Entity) (*swmodel.Pipeline, error) {
	p, err := swmodel.New(schema)
	if err != nil {
		return nil, err
	}
	if err := p.WriteAll(entries.InsertsInOrder(es)); err != nil {
		return nil, fmt.Errorf("the model does not take this state: %w", err)
	}
	return p, nil
}
