// SPDX-License-Identifier: Apache-2.0

package swmodel_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket/layers"
	"github.com/symdist/symdist/contract"
	"github.com/symdist/symdist/internal/cputime"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swmodel"
	"github.com/symdist/symdist/vectors"
)

// newFixture returns a pipeline holding the vectors' fixture state, written
// through P4Runtime updates as a controller would.
func newFixture(t testing.TB) *swmodel.Pipeline {
	t.Helper()
	schema := p4info.MustLoad()
	p, err := swmodel.New(schema)
	if err != nil {
		t.Fatal(err)
	}
	updates, err := vectors.ReadState("../test/vectors/state.txtpb")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WriteAll(updates); err != nil {
		t.Fatal(err)
	}
	return p
}

func outputs(res *swmodel.Result) []vectors.Output {
	var out []vectors.Output
	for _, port := range res.Ports {
		out = append(out, vectors.Output{Port: port, Frame: append([]byte(nil), res.Frame...)})
	}
	return out
}

// The model passes every golden vector: egress ports, bytes and trace.
func TestGoldenVectors(t *testing.T) {
	p := newFixture(t)
	vs, err := vectors.ReadSTFFile("../test/vectors/symdist.stf")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) < 50 {
		t.Fatalf("only %d vectors", len(vs))
	}
	var res swmodel.Result
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			p.Process(v.Port, v.Frame, &res)
			if diff := cmp.Diff(v.Expect, outputs(&res)); diff != "" {
				t.Errorf("outputs (-want +got):\n%s", diff)
			}
			if got := res.Trace.String(); got != v.Trace {
				t.Errorf("trace = %q, want %q", got, v.Trace)
			}
		})
	}
}

// RandomFlow is a TCP or UDP flow between a client and a VIP.
type randomFlow struct {
	proto      layers.IPProtocol
	client     netip.Addr
	clientPort uint16
	vip        netip.Addr
	vipPort    uint16
}

func newRandomFlow(r *rand.Rand) randomFlow {
	f := randomFlow{proto: layers.IPProtocolTCP, clientPort: uint16(r.IntN(65536)), vipPort: uint16(r.IntN(65536))}
	if r.IntN(2) == 0 {
		f.proto = layers.IPProtocolUDP
	}
	if r.IntN(2) == 0 {
		f.client = netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
		f.vip = netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(256))})
	} else {
		var a [16]byte
		a[0], a[1], a[2], a[3] = 0x20, 0x01, 0x0d, 0xb8
		for i := 4; i < 16; i++ {
			a[i] = byte(r.IntN(256))
		}
		f.client = netip.AddrFrom16(a)
		a[15] ^= 0xff
		f.vip = netip.AddrFrom16(a)
	}
	return f
}

// A packet and its reply reach the same TM, through the bucket the
// contract's hash names, over many random flows.
func TestRequestAndReplySameTM(t *testing.T) {
	p := newFixture(t)
	r := rand.New(rand.NewPCG(1, 2))
	var req, rep swmodel.Result
	perTM := map[uint16]int{}
	for i := 0; i < 20000; i++ {
		f := newRandomFlow(r)
		p.Process(vectors.PortClient, vectors.Flow(f.proto, f.client, f.clientPort, f.vip, f.vipPort, nil), &req)
		p.Process(vectors.PortServer, vectors.Flow(f.proto, f.vip, f.vipPort, f.client, f.clientPort, nil), &rep)
		if !req.Trace.Steered || !rep.Trace.Steered {
			t.Fatalf("flow %+v not steered: %v / %v", f, req.Trace, rep.Trace)
		}
		if req.Trace.TM != rep.Trace.TM {
			t.Fatalf("flow %+v: request to TM %d, reply to TM %d", f, req.Trace.TM, rep.Trace.TM)
		}
		key, ok := contract.KeyForPorts(f.client, f.clientPort, f.vip, f.vipPort)
		if !ok {
			if req.Trace.Reason != swmodel.ReasonEqualPorts {
				t.Fatalf("equal ports gave reason %v", req.Trace.Reason)
			}
			continue
		}
		wantBucket := contract.Bucket(contract.Hash(key), contract.DefaultBuckets)
		if int(req.Trace.Bucket) != wantBucket || req.Trace.KeyAddr != key.Addr || req.Trace.KeyPort != key.Port {
			t.Fatalf("flow %+v: trace %v, want key %v bucket %d", f, req.Trace, key, wantBucket)
		}
		if want := vectors.TMs[vectors.BucketOwner(vectors.GroupMain, wantBucket)].ID; req.Trace.TM != want {
			t.Fatalf("flow %+v: TM %d, want %d", f, req.Trace.TM, want)
		}
		perTM[req.Trace.TM]++
	}
	for _, tm := range vectors.TMs {
		if perTM[tm.ID] < 6000 {
			t.Errorf("TM %d got %d of 20000 flows", tm.ID, perTM[tm.ID])
		}
	}
}

// Counters count what the pipeline did.
func TestCounters(t *testing.T) {
	p := newFixture(t)
	ids, _ := p.Schema().Resolve()
	var res swmodel.Result
	frame := vectors.Flow(layers.IPProtocolTCP, vectors.ClientV4, 51234, vectors.VIPV4, 80, nil)
	for i := 0; i < 3; i++ {
		p.Process(vectors.PortClient, frame, &res)
	}
	p.Process(vectors.PortNoRole, frame, &res)
	p.Process(vectors.PortClient, frame, &res)
	tm := res.Trace.TM
	got, _ := p.Counter(ids.TMCounter, int(tm))
	if want := (swmodel.CounterValue{Packets: 4, Bytes: uint64(4 * len(frame))}); got != want {
		t.Errorf("tm_counter[%d] = %+v, want %+v", tm, got, want)
	}
	got, _ = p.Counter(ids.SteerReasonCounter, int(swmodel.ReasonHashed))
	if got.Packets != 4 {
		t.Errorf("steer_reason_counter[hashed] = %d packets, want 4", got.Packets)
	}
	got, _ = p.Counter(ids.DropCounter, int(swmodel.DropUnknownPort))
	if got.Packets != 1 {
		t.Errorf("drop_counter[unknown_port] = %d packets, want 1", got.Packets)
	}
}

// A frame from the CPU port with a packet_out header leaves by the port it
// names, without the header.
func TestPacketOut(t *testing.T) {
	p := newFixture(t)
	frame := vectors.Flow(layers.IPProtocolTCP, vectors.ClientV4, 51234, vectors.VIPV4, 80, nil)
	in := append([]byte{vectors.PortPeer >> 1, vectors.PortPeer & 1 << 7}, frame...)
	var res swmodel.Result
	p.Process(swmodel.CPUPort, in, &res)
	if diff := cmp.Diff([]vectors.Output{{Port: vectors.PortPeer, Frame: frame}}, outputs(&res)); diff != "" {
		t.Errorf("packet-out (-want +got):\n%s", diff)
	}
}

// Processing a packet allocates nothing.
func TestProcessAllocatesNothing(t *testing.T) {
	p := newFixture(t)
	for _, name := range []string{"ipv4", "ipv6"} {
		frame := benchFrames()[name]
		var res swmodel.Result
		p.Process(vectors.PortClient, frame, &res)
		if n := testing.AllocsPerRun(100, func() { p.Process(vectors.PortClient, frame, &res) }); n != 0 {
			t.Errorf("%s: %v allocations per packet, want 0", name, n)
		}
	}
}

func benchFrames() map[string][]byte {
	req := vectors.Flow(layers.IPProtocolTCP, vectors.ClientV4, 51234, vectors.VIPV4, 80, nil)
	return map[string][]byte{
		"ipv4":       req,
		"ipv6":       vectors.Flow(layers.IPProtocolTCP, vectors.ClientV6, 51234, vectors.VIPV6, 80, nil),
		"icmp_error": vectors.ICMPError(vectors.RouterV4, req, 100),
	}
}

// BenchmarkProcess runs each packet kind through Process beside the floor
// (floorDecide) on the same frame, so that the ratio of the two is
// measured in one run on a machine whose speed varies.
func BenchmarkProcess(b *testing.B) {
	p := newFixture(b)
	var table [contract.DefaultBuckets]uint16
	for i := range table {
		table[i] = uint16(i % 3)
	}
	for _, name := range []string{"ipv4", "ipv6", "icmp_error"} {
		frame := benchFrames()[name]
		b.Run("floor/"+name, func(b *testing.B) {
			cputime.Loop(b, func() { floorDecide(frame, &table) })
		})
		b.Run("Process/"+name, func(b *testing.B) {
			var res swmodel.Result
			cputime.Loop(b, func() { p.Process(vectors.PortClient, frame, &res) })
		})
	}
}

// floorDecide is the least that deciding a steered packet takes, with
// nothing checked but bounds: walk Ethernet and IP (and the quoted IP
// header of an ICMP error) to the ports, take the key of contract section
// 2, hash it (contract.HashBytes) and read one table. Process does this
// and the rest of the pipeline (port roles, header checks, classifier, TM
// addresses, counters, the output frame and the trace).
func floorDecide(b []byte, table *[contract.DefaultBuckets]uint16) uint16 {
	var key [contract.MaxKeyLen]byte
	var src, dst []byte
	off, quoted := ethernetLen, false
	etherType := binary.BigEndian.Uint16(b[12:])
	for {
		var proto byte
		switch {
		case etherType == 0x0800 && len(b) >= off+20:
			proto, src, dst = b[off+9], b[off+12:off+16], b[off+16:off+20]
			off += int(b[off]&0x0f) * 4
		case etherType == 0x86dd && len(b) >= off+40:
			proto, src, dst = b[off+6], b[off+8:off+24], b[off+24:off+40]
			off += 40
		default:
			return 0
		}
		if (proto == 1 || proto == 58) && !quoted {
			off, quoted = off+8, true // the ICMP error's quoted packet
			continue
		}
		break
	}
	if len(b) < off+4 {
		return 0
	}
	sp, dp := binary.BigEndian.Uint16(b[off:]), binary.BigEndian.Uint16(b[off+2:])
	k := append(key[:0], dst...)
	port := dp
	if sp > dp {
		k, port = append(key[:0], src...), sp
	}
	k = binary.BigEndian.AppendUint16(k, port)
	return table[contract.HashBytes(k)&(contract.DefaultBuckets-1)]
}

const ethernetLen = 14

func ExampleTrace_String() {
	fmt.Println(swmodel.Trace{Steered: true, Group: 1, HasKey: true, KeyAddr: netip.MustParseAddr("10.0.0.7"),
		KeyPort: 51234, Bucket: 0x8e2, Reason: swmodel.ReasonHashed, TM: 2})
	// Output: group=1 key=10.0.0.7:51234 bucket=2274 reason=hashed tm=2
}
