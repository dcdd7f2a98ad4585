// SPDX-License-Identifier: Apache-2.0

// Package swmodel is the symdist P4 program (p4src/symdist.p4) in Go: the
// conformance oracle for bmv2 and the data plane of the software switch.
// Each P4 control has a Go file of the same name; Pipeline.Process is
// SymdistIngress, SymdistEgress and the v1model traffic manager between
// them. Its state is written with the same P4Runtime Update messages the
// controller sends to a switch, validated against the committed P4Info.
//
// Pipeline.Write takes Update messages and answers with P4Runtime's status
// codes; Pipeline.Read gives entries back canonical, with the filters of
// P4Runtime spec section 11.1 and the counter index rules
// (p4rtserver/README.md lists them with their codes).
// Pipeline.Process(port, frame, &res) gives the egress ports, the output
// frame and a trace (group, key, bucket, TM, reason, drop cause); it
// checks bounds before every read, never panics (fuzzed) and allocates
// nothing. docs/contract.md section 7 defines the outcome of every
// malformed or truncated input, and test/vectors/symdist.stf pins it.
//
// # Locking
//
// Forwarding never waits for a writer (snapshot.go): Process reads the
// tables a Write batch published through an atomic pointer, and a batch
// copies only what it changes (maps whole, bucket_table page by page of
// 4,096 buckets). A Write batch holds the store for its whole length. Read
// lists the matching entries under the store's read lock at once, a
// snapshot of pointers (a stored entry is replaced, never changed), then
// clones or rebuilds them and hands them over one by one without the lock,
// so a slow reader holds up neither writes nor packets.
//
// # Costs
//
// bucket_table lives only in that lookup tree, one pointer per entry
// (bucket_table.go); Read rebuilds its canonical entries. tm_counter and
// steer_reason_counter are one cell per (TM, reason), read as the two P4
// counters, so a steered packet costs two atomic adds. They are made last
// in Process (countTMSelect): a locked add waits for the bucket lookup and
// holds back every later memory access, so the rest of the packet's work
// goes first. Per-packet state is small and set field by field: header
// offsets are int16, and no struct is built as a literal and then copied
// (the copy's wide loads stall on the narrow stores that built it).
//
// group_classifier rules are kept sorted (priority, then match fields) by
// binary-search insertion; a batch copies the published list with its
// first change and then inserts in place (BenchmarkClassifierProgram;
// docs/performance.md has the figures). Publishing splits the list by the
// IP version a rule admits (splitClassifier), and a packet scans only its
// own version's list. BenchmarkProcess runs each packet kind beside a
// floor (parse, CRC, one table read) and reports the thread's CPU time
// (cpu-ns/op) as well as wall time.
package swmodel

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/symdist/symdist/p4info"
)

// Pipeline is one switch's instance of the program: tables, counters and
// multicast groups. Process may be called from many goroutines at once,
// and never waits for a writer: it reads the tables published by the last
// Write (snapshot.go).
type Pipeline struct {
	schema *p4info.Schema
	ids    *p4info.IDs

	view atomic.Pointer[tables] // what Process reads

	mu    sync.RWMutex // writers, and Read of the store
	t     tables       // the writer's copy, published as view
	owned owned        // parts of t not shared with view
	gen   uint64       // publish count, for the bucket nodes

	bucketEntries int // in bucket_table (bucket_table.go)
	store         store
	c             counters
}

// New returns a pipeline with empty tables for the given P4Info.
func New(schema *p4info.Schema) (*Pipeline, error) {
	ids, err := schema.Resolve()
	if err != nil {
		return nil, err
	}
	// The model's ports are device ports of 9 bits (v1model's, bmv2's),
	// in tables indexed by port: a P4Info with wider port fields (the
	// Tofino build's translated ones) would write past them.
	if ports, err := schema.ResolvePorts(); err != nil {
		return nil, err
	} else if ports.Bits != p4info.BuiltinPorts.Bits {
		return nil, fmt.Errorf("swmodel: the P4Info's port fields are %v; the model's ports are %d-bit device ports", ports, p4info.BuiltinPorts.Bits)
	}
	p := &Pipeline{schema: schema, ids: ids, t: newTables(), store: newStore()}
	p.publish()
	return p, nil
}

// Schema returns the P4Info the pipeline validates writes against.
func (p *Pipeline) Schema() *p4info.Schema { return p.schema }

// Reset clears every table, member, multicast group and counter, as a new
// pipeline config does.
func (p *Pipeline) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.t = newTables()
	p.store = newStore()
	p.bucketEntries = 0
	p.c.reset()
	p.publish()
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
}

// dropPort is v1model's drop port for simple_switch: an egress_spec of 511
// drops the packet.
const dropPort = 511

// Process runs one frame received on ingressPort through the pipeline.
func (p *Pipeline) Process(ingressPort uint16, frame []byte, res *Result) {
	t := p.view.Load()
	h := noHeaders
	var m localMetadata
	sm := standardMetadata{ingressPort: ingressPort}
	parse(frame, ingressPort, &h, &m)
	p.ingress(t, frame, &h, &m, &sm)

	res.Ports = res.Ports[:0]
	res.Frame = res.Frame[:0]
	// Every field of the trace is set, one by one: a Trace literal would be
	// built aside and copied in wide loads, which stall on the narrow
	// stores that built it.
	tr := &res.Trace
	tr.IngressPort, tr.PortRole, tr.Group = ingressPort, m.portRole, m.groupID
	tr.Hash, tr.Bucket, tr.Steered, tr.Drop = m.hash, m.bucket, m.steered, m.dropCause
	tr.TM, tr.Reason = 0, 0
	if m.steered {
		tr.TM, tr.Reason = m.tmID, m.reason
	}
	tr.Multicast = 0
	switch {
	case !m.hasKey || m.groupID == 0:
		tr.HasKey, tr.KeyAddr, tr.KeyPort = false, netip.Addr{}, 0
	case m.keyIsIPv6:
		tr.HasKey, tr.KeyAddr, tr.KeyPort = true, netip.AddrFrom16(m.keyAddrV6), m.keyPort
	default:
		tr.HasKey, tr.KeyAddr, tr.KeyPort = true, netip.AddrFrom4(m.keyAddrV4), m.keyPort
	}

	// The v1model traffic manager: drop, multicast, or unicast, each copy
	// then through SymdistEgress.
	switch {
	case sm.drop:
	case sm.mcastGrp != 0:
		tr.Multicast = sm.mcastGrp
		for _, port := range t.mcast[uint32(sm.mcastGrp)] {
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
	countTMSelect(&p.c, &m, len(frame))
}

// ingress mirrors control SymdistIngress (p4src/symdist.p4) over tables t.
func (p *Pipeline) ingress(t *tables, b []byte, h *headers, m *localMetadata, sm *standardMetadata) {
	m.dropCause = DropNone
	m.steered = false
	if valid(h.packetOut) {
		sm.egressSpec = u16(b, h.packetOut) >> 7
		return
	}
	headerCheck(b, h, m)
	t.portRole(m, sm)
	switch {
	case m.portRole == RoleNone:
		drop(m, sm, DropUnknownPort)
	case m.malformed:
		drop(m, sm, DropMalformed)
	default:
		// A frame to a group MAC (broadcast, ND, multicast) is bridged,
		// and so is neighbour discovery to a unicast MAC (isND). The P4
		// looks the group, key and TM up for every packet and uses them
		// only for a steerable one (Tofino's stages); the model looks up
		// only for a steerable one, with the same outcome.
		if m.portRole == RoleEdge && m.isIP && !m.isND && b[h.ethernet]&1 == 0 {
			t.groupClassifier(b, h, m)
			keySelect(b, h, m)
			t.tmSelect(b, h, m, sm)
			if !m.steered && m.groupID != 0 {
				drop(m, sm, DropNoTM)
			}
		}
		if !m.steered && m.dropCause == DropNone {
			t.l2Forward(b, h, sm)
		}
	}
	// Counted once here, as in the P4 (one table owns a counter on Tofino).
	if m.dropCause != DropNone {
		p.c.countDrop(m.dropCause, len(b))
	}
}

// drop is action drop of SymdistIngress.
func drop(m *localMetadata, sm *standardMetadata, cause DropCause) {
	m.dropCause = cause
	sm.drop = true
}

// Counter returns the value of one counter cell, by P4Info counter ID.
func (p *Pipeline) Counter(id uint32, index int) (CounterValue, bool) {
	arr := p.counterArray(id)
	if index < 0 || index >= arr.size {
		return CounterValue{}, false
	}
	return arr.read(index), true
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
