// SPDX-License-Identifier: Apache-2.0

package p4rtserver_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4rtserver"
	"github.com/symdist/symdist/swmodel"
	"github.com/symdist/symdist/vectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// A request over MaxRecvMsgSize is refused with RESOURCE_EXHAUSTED; one
// over gRPC's default 4 MiB but under the limit is served.
func TestHugeRequests(t *testing.T) {
	h := newHarness(t)
	h.primary(1)
	big := &p4v1.ForwardingPipelineConfig{P4Info: pipelineConfig().P4Info, P4DeviceConfig: make([]byte, 10<<20)}
	wantCode(t, "a 10 MiB config", h.setConfig(eid(1), verify, big), codes.InvalidArgument)
	huge := &p4v1.ForwardingPipelineConfig{P4Info: pipelineConfig().P4Info, P4DeviceConfig: make([]byte, p4rtserver.MaxRecvMsgSize+1)}
	wantCode(t, "a config over the limit", h.setConfig(eid(1), verify, huge), codes.ResourceExhausted)
	h.commit(1)
	wantCode(t, "the server after it", h.write(eid(1), probe(h, 20)), codes.OK)
}

// A large failing batch gets its per-update errors; past maxErrorDetails
// the messages are left out and the codes kept.
func TestWriteLargeFailingBatch(t *testing.T) {
	h := newHarness(t)
	h.primary(1)
	h.commit(1)
	for _, c := range []struct {
		n        int
		messages bool
	}{{5_000, true}, {45_000, false}} {
		batch := make([]*p4v1.Update, c.n)
		for i := range batch {
			batch[i] = entries.Update(p4v1.Update_DELETE, entries.Builder{IDs: h.ids}.PortRole(uint16(i%512), 1))
		}
		err := h.write(eid(1), batch...)
		for i, code := range updateCodes(t, err, c.n) {
			if code != codes.NotFound {
				t.Fatalf("%d updates: update %d: %v, want NOT_FOUND", c.n, i, code)
			}
		}
		msg := status.Convert(err).Details()[0].(*p4v1.Error).GetMessage()
		if (msg != "") != c.messages {
			t.Errorf("%d updates: per-update message %q, want messages %v", c.n, msg, c.messages)
		}
	}
}

// fakeReadStream is a Read stream for calling Read directly.
type fakeReadStream struct {
	grpc.ServerStream
	ctx  context.Context
	sent []*p4v1.ReadResponse
}

func (f *fakeReadStream) Context() context.Context { return f.ctx }

func (f *fakeReadStream) Send(r *p4v1.ReadResponse) error {
	f.sent = append(f.sent, r)
	return nil
}

func (f *fakeReadStream) SetHeader(metadata.MD) error  { return nil }
func (f *fakeReadStream) SendHeader(metadata.MD) error { return nil }
func (f *fakeReadStream) SetTrailer(metadata.MD)       {}

// Nil requests and nil fields, which gRPC never delivers but a direct
// caller may: an error code, never a panic.
func TestNilRequests(t *testing.T) {
	h := newHarness(t)
	s := h.srv
	c := ctx(t)
	if _, err := s.Write(c, nil); status.Code(err) != codes.NotFound {
		t.Errorf("Write(nil): %v", err)
	}
	if err := s.Read(nil, &fakeReadStream{ctx: c}); status.Code(err) != codes.NotFound {
		t.Errorf("Read(nil): %v", err)
	}
	if _, err := s.SetForwardingPipelineConfig(c, nil); status.Code(err) != codes.NotFound {
		t.Errorf("SetForwardingPipelineConfig(nil): %v", err)
	}
	if _, err := s.GetForwardingPipelineConfig(c, nil); status.Code(err) != codes.NotFound {
		t.Errorf("GetForwardingPipelineConfig(nil): %v", err)
	}
	if _, err := s.Capabilities(c, nil); err != nil {
		t.Errorf("Capabilities(nil): %v", err)
	}
	h.primary(1)
	_, err := s.SetForwardingPipelineConfig(c, &p4v1.SetForwardingPipelineConfigRequest{DeviceId: deviceID, ElectionId: eid(1), Action: verify,
		Config: &p4v1.ForwardingPipelineConfig{P4Info: &p4configv1.P4Info{Tables: []*p4configv1.Table{{}}, Actions: []*p4configv1.Action{{Params: []*p4configv1.Action_Param{{}}}}}}})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("SetForwardingPipelineConfig with empty entities: %v", err)
	}
	_, err = s.SetForwardingPipelineConfig(c, &p4v1.SetForwardingPipelineConfigRequest{DeviceId: deviceID, ElectionId: eid(1), Action: verify,
		Config: &p4v1.ForwardingPipelineConfig{P4Info: &p4configv1.P4Info{Tables: []*p4configv1.Table{nil}, Counters: []*p4configv1.Counter{{Preamble: nil}}}}})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("SetForwardingPipelineConfig with nil entities: %v", err)
	}
	h.commit(1)

	updates := []*p4v1.Update{
		nil,
		{},
		{Type: p4v1.Update_INSERT, Entity: &p4v1.Entity{}},
		{Type: p4v1.Update_INSERT, Entity: &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{}}},
		{Type: p4v1.Update_DELETE, Entity: &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileMember{}}},
		{Type: p4v1.Update_MODIFY, Entity: &p4v1.Entity{Entity: &p4v1.Entity_PacketReplicationEngineEntry{}}},
		{Type: p4v1.Update_INSERT, Entity: &p4v1.Entity{Entity: &p4v1.Entity_PacketReplicationEngineEntry{PacketReplicationEngineEntry: &p4v1.PacketReplicationEngineEntry{
			Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{}}}}},
		{Type: p4v1.Update_INSERT, Entity: &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{
			TableId: h.ids.PortRole.Table, Match: []*p4v1.FieldMatch{nil}}}}},
		{Type: p4v1.Update_INSERT, Entity: &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{
			TableId: h.ids.PortRole.Table, Match: []*p4v1.FieldMatch{{FieldId: h.ids.PortRole.IngressPort, FieldMatchType: &p4v1.FieldMatch_Exact_{}}},
			Action: &p4v1.TableAction{Type: &p4v1.TableAction_Action{}}}}}},
		{Type: p4v1.Update_INSERT, Entity: &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{
			TableId: h.ids.PortRole.Table, Match: []*p4v1.FieldMatch{{FieldId: h.ids.PortRole.IngressPort, FieldMatchType: &p4v1.FieldMatch_Exact_{Exact: &p4v1.FieldMatch_Exact{Value: []byte{9}}}}},
			Action: &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: &p4v1.Action{ActionId: h.ids.PortRole.SetPortRole, Params: []*p4v1.Action_Param{nil}}}}}}}},
	}
	_, err = s.Write(c, &p4v1.WriteRequest{DeviceId: deviceID, ElectionId: eid(1), Updates: updates})
	for i, code := range updateCodes(t, err, len(updates)) {
		if code != codes.InvalidArgument && code != codes.Unimplemented && code != codes.NotFound {
			t.Errorf("update %d: %v", i, code)
		}
	}

	for _, e := range []*p4v1.Entity{
		{Entity: &p4v1.Entity_TableEntry{}},
		{Entity: &p4v1.Entity_ActionProfileMember{}},
		{Entity: &p4v1.Entity_PacketReplicationEngineEntry{}},
		{Entity: &p4v1.Entity_CounterEntry{}},
		{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: h.ids.PortRole.Table, Match: []*p4v1.FieldMatch{nil}}}},
		nil,
	} {
		err := s.Read(&p4v1.ReadRequest{DeviceId: deviceID, Entities: []*p4v1.Entity{e}}, &fakeReadStream{ctx: c})
		t.Logf("Read(%v): %v", e, err)
	}
}

// A panic in a handler (here in the owner's Inject) is recovered by the
// interceptor: the stream ends with INTERNAL, the primary is gone, the
// panic is logged, and the server goes on.
func TestPanicRecovered(t *testing.T) {
	h := newHarnessInject(t, func(uint16, []byte) { panic("inject failed") })
	p := h.primary(2)
	b := h.connect(eid(1))
	b.wantArbitration(codes.AlreadyExists, eid(2))
	h.commit(2)
	p.packetOut(&p4v1.PacketOut{Payload: frame(), Metadata: []*p4v1.PacketMetadata{md(h.ids.PacketOut.EgressPort, 3)}})
	p.wantClosed(codes.Internal)
	b.wantArbitration(codes.NotFound, eid(2))
	if !strings.Contains(h.logs.String(), "inject failed") {
		t.Errorf("the panic was not logged:\n%s", h.logs)
	}
	if _, err := h.cli.Capabilities(ctx(t), &p4v1.CapabilitiesRequest{}); err != nil {
		t.Errorf("the server after the panic: %v", err)
	}
}

// A controller that does not read its stream does not hold up the server:
// the others are served, and once it reads it finds its stream ended with
// RESOURCE_EXHAUSTED.
func TestSlowController(t *testing.T) {
	h := newHarness(t)
	p := h.primary(1)
	h.commit(1)

	// A connection of its own, with small flow-control windows.
	conn, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(1<<16), grpc.WithInitialConnWindowSize(1<<16))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sc, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow, err := p4v1.NewP4RuntimeClient(conn).StreamChannel(sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := slow.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{
		Arbitration: &p4v1.MasterArbitrationUpdate{DeviceId: deviceID}}}); err != nil {
		t.Fatal(err)
	}

	// Each re-arbitration of the primary notifies the slow backup.
	const rounds = 4000
	for i := range rounds {
		p.arbitrate(deviceID, eid(uint64(2+i)))
		p.wantArbitration(codes.OK, eid(uint64(2+i)))
	}
	wantCode(t, "write with the slow backup stuck", h.write(eid(rounds+1), probe(h, 20)), codes.OK)

	n := 0
	for {
		_, err := slow.Recv()
		if err != nil {
			if status.Code(err) != codes.ResourceExhausted {
				t.Fatalf("the slow stream ended with %v after %d messages, want RESOURCE_EXHAUSTED", err, n)
			}
			break
		}
		n++
	}
	t.Logf("the slow controller got %d of %d notifications", n, rounds+1)
}

// Many clients at once, writing, reading, connecting and sending packets:
// no deadlock, and (under -race) no data race.
func TestConcurrentUse(t *testing.T) {
	h, p := ready(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	run := func(f func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				f(i)
			}
		}()
	}
	b := entries.Builder{IDs: h.ids}
	run(func(i int) {
		op := p4v1.Update_INSERT
		if i%2 == 1 {
			op = p4v1.Update_DELETE
		}
		if _, err := h.cli.Write(context.Background(), &p4v1.WriteRequest{DeviceId: deviceID, ElectionId: eid(1),
			Updates: []*p4v1.Update{entries.Update(op, b.L2Forward(net.HardwareAddr{2, 0xaa, 0, 0, 1, byte(i / 2)}, 3))}}); err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	})
	run(func(int) {
		if _, _, err := h.readAll(wildcards()...); err != nil {
			t.Errorf("read: %v", err)
		}
	})
	run(func(int) {
		var res swmodel.Result
		h.srv.Pipeline().Process(vectors.PortClient, frame(), &res)
		h.srv.SendPacketIn(frame())
	})
	run(func(i int) {
		s := h.connect(nil)
		s.wantArbitration(codes.AlreadyExists, eid(1))
		s.close()
	})
	run(func(int) {
		if _, err := h.cli.GetForwardingPipelineConfig(context.Background(), &p4v1.GetForwardingPipelineConfigRequest{DeviceId: deviceID}); err != nil {
			t.Errorf("get config: %v", err)
		}
	})
	time.Sleep(300 * time.Millisecond)
	close(stop)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("clients stuck")
	}
	// The primary got its packet-ins, in order, and is still primary.
	got := 0
	for len(p.msgs) > 0 {
		if m := <-p.msgs; m.GetPacket() != nil {
			got++
		}
	}
	if got == 0 {
		t.Error("the primary got no packet-ins")
	}
	wantCode(t, "write after the storm", h.write(eid(1), probe(h, 20)), codes.OK)
}
