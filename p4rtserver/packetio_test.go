// SPDX-License-Identifier: Apache-2.0

package p4rtserver_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/swmodel"
	"github.com/symdist/symdist/vectors"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/anypb"
)

// frame is an Ethernet frame to the server's MAC.
func frame() []byte {
	f := slices.Concat([]byte(vectors.ServerMAC), []byte(vectors.ClientMAC), []byte{0x88, 0xb5}, []byte("payload"))
	return f
}

func md(id uint32, v ...byte) *p4v1.PacketMetadata {
	return &p4v1.PacketMetadata{MetadataId: id, Value: v}
}

func (h *harness) wantInjected() injected {
	h.t.Helper()
	select {
	case in := <-h.injected:
		return in
	case <-time.After(wait):
		h.t.Fatal("no packet injected")
	}
	return injected{}
}

func (h *harness) wantNothingInjected() {
	h.t.Helper()
	select {
	case in := <-h.injected:
		h.t.Fatalf("injected %x on port %d, want nothing", in.frame, in.port)
	default:
	}
}

// A packet-out of the primary reaches the pipeline on the CPU port with
// the packet_out header built from its metadata, and leaves on the port
// the metadata names.
func TestPacketOut(t *testing.T) {
	h, s := ready(t)
	egress := h.ids.PacketOut.EgressPort
	pad := egress + 1 // _pad, the second field
	for _, c := range []struct {
		name string
		md   []*p4v1.PacketMetadata
		port uint16
	}{
		{"port 3 with padding", []*p4v1.PacketMetadata{md(egress, 3), md(pad, 0)}, 3},
		{"padding left out", []*p4v1.PacketMetadata{md(egress, 4)}, 4},
		{"padded value, fields out of order", []*p4v1.PacketMetadata{md(pad, 0, 0), md(egress, 0, 0, 5)}, 5},
		{"9-bit port", []*p4v1.PacketMetadata{md(egress, 1, 0x0a)}, 266},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.packetOut(&p4v1.PacketOut{Payload: frame(), Metadata: c.md})
			in := h.wantInjected()
			hdr := []byte{byte(c.port >> 1), byte(c.port << 7)} // bit<9> egress_port, bit<7> _pad
			if in.port != swmodel.CPUPort || !bytes.Equal(in.frame, append(hdr, frame()...)) {
				t.Fatalf("injected %x on port %d, want %x on %d", in.frame, in.port, append(hdr, frame()...), swmodel.CPUPort)
			}
			var res swmodel.Result
			h.srv.Pipeline().Process(in.port, in.frame, &res)
			if !slices.Equal(res.Ports, []uint16{c.port}) || !bytes.Equal(res.Frame, frame()) {
				t.Errorf("pipeline sent %x to %v, want %x to [%d]", res.Frame, res.Ports, frame(), c.port)
			}
		})
	}
}

// Malformed packet-out metadata: a StreamError with the packet-out, no
// packet, and the stream goes on.
func TestPacketOutMalformed(t *testing.T) {
	h, s := ready(t)
	egress := h.ids.PacketOut.EgressPort
	pad := egress + 1
	for _, c := range []struct {
		name string
		md   []*p4v1.PacketMetadata
	}{
		{"no metadata", nil},
		{"egress_port missing", []*p4v1.PacketMetadata{md(pad, 0)}},
		{"unknown metadata ID", []*p4v1.PacketMetadata{md(egress, 3), md(7, 1)}},
		{"metadata ID 0", []*p4v1.PacketMetadata{md(egress, 3), md(0, 1)}},
		{"egress_port twice", []*p4v1.PacketMetadata{md(egress, 3), md(egress, 4)}},
		{"egress_port wider than 9 bits", []*p4v1.PacketMetadata{md(egress, 2, 0)}},
		{"egress_port empty", []*p4v1.PacketMetadata{md(egress)}},
		{"_pad wider than 7 bits", []*p4v1.PacketMetadata{md(egress, 3), md(pad, 0x80)}},
		{"huge value", []*p4v1.PacketMetadata{md(egress, append([]byte{1}, make([]byte, 1<<20)...)...)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			po := &p4v1.PacketOut{Payload: frame(), Metadata: c.md}
			s.packetOut(po)
			e := s.wantStreamError(codes.InvalidArgument)
			if c.name == "huge value" {
				if e.GetPacketOut() == nil || e.GetPacketOut().GetPacketOut() != nil {
					t.Errorf("the error for a huge packet-out: %v, want packet_out details without the packet", e.GetDetails())
				}
			} else {
				if diff := cmp.Diff(po, e.GetPacketOut().GetPacketOut(), protocmp.Transform()); diff != "" {
					t.Errorf("the error's packet_out (-sent +got):\n%s", diff)
				}
			}
			h.wantNothingInjected()
		})
	}
	// The stream still works.
	s.packetOut(&p4v1.PacketOut{Payload: frame(), Metadata: []*p4v1.PacketMetadata{md(egress, 3)}})
	h.wantInjected()
}

// Only the primary sends packet-outs, once there is a pipeline; other
// stream messages are refused with a StreamError.
func TestPacketOutWho(t *testing.T) {
	h := newHarness(t)
	po := &p4v1.PacketOut{Payload: frame(), Metadata: []*p4v1.PacketMetadata{md(h.ids.PacketOut.EgressPort, 3)}}

	unarbitrated := h.open()
	unarbitrated.packetOut(po)
	unarbitrated.wantStreamError(codes.PermissionDenied)

	p := h.primary(2)
	p.packetOut(po)
	p.wantStreamError(codes.FailedPrecondition) // no pipeline
	h.commit(2)

	b := h.connect(eid(1))
	b.wantArbitration(codes.AlreadyExists, eid(2))
	b.packetOut(po)
	if e := b.wantStreamError(codes.PermissionDenied); e.GetPacketOut() == nil {
		t.Error("the error does not say it is about a packet-out")
	}
	h.wantNothingInjected()

	p.send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_DigestAck{DigestAck: &p4v1.DigestListAck{DigestId: 1}}})
	if e := p.wantStreamError(codes.InvalidArgument); e.GetDigestListAck() == nil {
		t.Error("the digest ack error has no digest_list_ack details")
	}
	p.send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Other{Other: &anypb.Any{TypeUrl: "example.com/x"}}})
	p.wantStreamError(codes.Unimplemented)
	p.send(&p4v1.StreamMessageRequest{})
	p.wantStreamError(codes.InvalidArgument)

	p.packetOut(po)
	h.wantInjected()
}

// Packet-ins go to the primary alone, a copy of what was given.
func TestPacketIn(t *testing.T) {
	h := newHarness(t)
	if h.srv.SendPacketIn(frame()) {
		t.Error("SendPacketIn with no primary reported success")
	}
	p := h.primary(2)
	b := h.connect(eid(1))
	b.wantArbitration(codes.AlreadyExists, eid(2))

	f := frame()
	meta := md(1, 0, 3)
	if !h.srv.SendPacketIn(f, meta, nil) {
		t.Fatal("SendPacketIn to the primary failed")
	}
	f[0], meta.Value[1] = 0xff, 0xff // the caller reuses its buffers
	want := &p4v1.PacketIn{Payload: frame(), Metadata: []*p4v1.PacketMetadata{md(1, 0, 3)}}
	if diff := cmp.Diff(want, p.next().GetPacket(), protocmp.Transform()); diff != "" {
		t.Errorf("packet-in (-want +got):\n%s", diff)
	}
	b.wantQuiet()

	p.close()
	b.wantArbitration(codes.NotFound, eid(2))
	if h.srv.SendPacketIn(frame()) {
		t.Error("SendPacketIn after the primary left reported success")
	}
}
