// Package swmodel is the symdist P4 program (p4src/symdist.p4) in Go: the
// conformance oracle for bmv2 and the data plane of the software switch.
// Each P4 control has a Go file of the same name; Pipeline.Process is
// SymdistIngress, SymdistEgress and the v1model traffic manager between
// them. Its state is written with the same P4Runtime Update messages the
// controller sends to a switch, validated against the committed P4Info.
package swmodel

import (
	"fmt"
	"net/netip"
	"sync"

	"github.com/symdist/symdist/p4info"
)

// Pipeline is one switch's instance of the program: tables, counters and
// multicast groups. Process may be called from many goroutines at once.
// A Write batch holds the store (mu) for its whole length, but the lookup
// tables (dp) only while it changes them: a few pointer or map writes per
// update, what is bigger (the classifier's rule list, the filter of TM
// addresses) being built aside and swapped in. So a packet waits for a
// few microseconds at most, never for a batch, and Read never holds up
// packets.
type Pipeline struct {
	schema *p4info.Schema
	ids    *p4info.IDs

	mu    sync.RWMutex // guards store; writers of t hold it too
	store store
	dp    sync.RWMutex // guards t: Process reads it, writers change it (holding mu too)
	t     tables
	c     counters
}

// New returns a pipeline with empty tables for the given P4Info.
func New(schema *p4info.Schema) (*Pipeline, error) {
	ids, err := schema.Resolve()
	if err != nil {
		return nil, err
	}
	return &Pipeline{schema: schema, ids: ids, t: newTables(), store: newStore()}, nil
}

// Schema returns the P4Info the pipeline validates writes against.
func (p *Pipeline) Schema() *p4info.Schema { return p.schema }

// Reset clears every table, member, multicast group and counter, as a new
// pipeline config does.
func (p *Pipeline) Reset() {
	fresh := newTables()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dp.Lock()
	defer p.dp.Unlock()
	p.t = fresh
	p.store = newStore()
	p.c = counters{}
}

// Trace says how the pipeline decided.
type Trace struct {
	IngressPort uint16
	PortRole    PortRole
	Group       uint16
	HasKey      bool
	KeyAddr     netip.Addr
	KeyPort     uint16
	Hash        uint32
	Bucket      uint16
	Steered     bool
	TM          uint16 // tm_id of send_to_tm, when Steered
	Reason      Reason // when Steered
	Multicast   uint16 // the multicast group flooded to, or 0
	Drop        DropCause
}

// Result is what Process produces. Reuse one Result across calls: its
// buffers are kept, so processing a packet allocates nothing.
type Result struct {
	Ports []uint16 // egress ports, empty when dropped
	Frame []byte   // the frame that leaves on every one of Ports
	Trace Trace

	scratch [18]byte
}

// dropPort is v1model's drop port for simple_switch: an egress_spec of 511
// drops the packet.
const dropPort = 511

// Process runs one frame received on ingressPort through the pipeline.
func (p *Pipeline) Process(ingressPort uint16, frame []byte, res *Result) {
	p.dp.RLock()
	defer p.dp.RUnlock()
	h := noHeaders
	var m localMetadata
	sm := standardMetadata{ingressPort: ingressPort}
	parse(frame, ingressPort, &h, &m)
	p.ingress(frame, &h, &m, &sm, res)

	res.Ports = res.Ports[:0]
	res.Frame = res.Frame[:0]
	tr := &res.Trace
	*tr = Trace{IngressPort: ingressPort, PortRole: m.portRole, Group: m.groupID,
		Steered: m.steered, Drop: m.dropCause, Hash: m.hash, Bucket: m.bucket}
	if m.steered {
		tr.TM, tr.Reason = m.tmID, m.reason
	}
	if m.hasKey && m.groupID != 0 {
		tr.HasKey, tr.KeyPort = true, m.keyPort
		if m.keyIsIPv6 {
			tr.KeyAddr = netip.AddrFrom16(m.keyAddrV6)
		} else {
			tr.KeyAddr = netip.AddrFrom4(m.keyAddrV4)
		}
	}

	// The v1model traffic manager: drop, multicast, or unicast, each copy
	// then through SymdistEgress.
	switch {
	case sm.drop:
	case sm.mcastGrp != 0:
		tr.Multicast = sm.mcastGrp
		for _, port := range p.t.mcast[uint32(sm.mcastGrp)] {
			if !prune(port, ingressPort) {
				res.Ports = append(res.Ports, port)
			}
		}
	case sm.egressSpec == dropPort:
	default:
		if !prune(sm.egressSpec, ingressPort) {
			res.Ports = append(res.Ports, sm.egressSpec)
		}
	}
	if len(res.Ports) > 0 {
		res.Frame = deparse(res.Frame, frame, &h, &m)
	}
}

// ingress mirrors control SymdistIngress (p4src/symdist.p4).
func (p *Pipeline) ingress(b []byte, h *headers, m *localMetadata, sm *standardMetadata, res *Result) {
	m.dropCause = DropNone
	m.steered = false
	if valid(h.packetOut) {
		sm.egressSpec = u16(b, h.packetOut) >> 7
		return
	}
	headerCheck(b, h, m)
	p.t.portRole(m, sm)
	switch {
	case m.portRole == RoleNone:
		p.drop(b, m, sm, DropUnknownPort)
	case m.malformed:
		p.drop(b, m, sm, DropMalformed)
	default:
		// A frame to a group MAC (broadcast, ND, multicast) is bridged,
		// and so is neighbour discovery to a unicast MAC (isND).
		if m.portRole == RoleEdge && m.isIP && !m.isND && b[h.ethernet]&1 == 0 {
			p.t.groupClassifier(b, h, m)
			keySelect(b, h, m)
			p.t.tmSelect(b, h, m, sm, &p.c, &res.scratch)
			if !m.steered && m.groupID != 0 {
				p.drop(b, m, sm, DropNoTM)
			}
		}
		if !m.steered && m.dropCause == DropNone {
			p.t.l2Forward(b, h, sm)
		}
	}
}

// drop is action drop of SymdistIngress.
func (p *Pipeline) drop(b []byte, m *localMetadata, sm *standardMetadata, cause DropCause) {
	m.dropCause = cause
	sm.drop = true
	p.c.count(p.c.drop[:], int(cause), len(b))
}

// Counter returns the value of one counter cell, by P4Info counter ID.
func (p *Pipeline) Counter(id uint32, index int) (CounterValue, bool) {
	arr := p.counterArray(id)
	if index < 0 || index >= len(arr) {
		return CounterValue{}, false
	}
	return p.c.read(arr, index), true
}

// String is the trace as the vector files state it.
func (t Trace) String() string {
	switch {
	case t.Drop != DropNone:
		return "drop=" + t.Drop.String()
	case !t.Steered:
		return "bridged"
	case t.Reason == ReasonDirect:
		return fmt.Sprintf("reason=direct tm=%d", t.TM)
	case t.HasKey:
		return fmt.Sprintf("group=%d key=%s:%d bucket=%d reason=%s tm=%d", t.Group, t.KeyAddr, t.KeyPort, t.Bucket, t.Reason, t.TM)
	default:
		return fmt.Sprintf("group=%d reason=%s tm=%d", t.Group, t.Reason, t.TM)
	}
}
