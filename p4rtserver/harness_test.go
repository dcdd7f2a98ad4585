// SPDX-License-Identifier: Apache-2.0

package p4rtserver_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/p4rtserver"
	"github.com/symdist/symdist/vectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// deviceID is the device the test servers serve.
const deviceID = 7

// wait bounds every wait for a message in the tests; callTimeout every
// call (long enough for the large batches under -race).
const (
	wait        = 5 * time.Second
	callTimeout = 60 * time.Second
)

type injected struct {
	port  uint16
	frame []byte
}

// harness is a server on 127.0.0.1 and a P4Runtime client of it, over a
// real gRPC connection.
type harness struct {
	t        testing.TB
	srv      *p4rtserver.Server
	g        *grpc.Server // serving srv
	cli      p4v1.P4RuntimeClient
	ids      *p4info.IDs
	injected chan injected
	logs     *syncBuffer
	addr     string // the server's
}

// syncBuffer is a log sink the server's goroutines may write to at any
// time, even after the test ends.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness(t testing.TB) *harness {
	return newHarnessInject(t, nil)
}

// newHarnessInject is newHarness with an Inject of its own; nil records
// the packet-outs in h.injected.
func newHarnessInject(t testing.TB, inject func(uint16, []byte)) *harness {
	t.Helper()
	return newHarnessConfig(t, inject, p4rtserver.Config{})
}

// newHarnessConfig is newHarnessInject with cfg's ArbitrationTimeout.
func newHarnessConfig(t testing.TB, inject func(uint16, []byte), cfg p4rtserver.Config) *harness {
	t.Helper()
	ids, err := p4info.MustLoad().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ids: ids, injected: make(chan injected, 64), logs: &syncBuffer{}}
	if inject == nil {
		inject = func(port uint16, frame []byte) {
			select {
			case h.injected <- injected{port, frame}:
			default:
			}
		}
	}
	h.srv = p4rtserver.New(p4rtserver.Config{
		DeviceID: deviceID,
		Logger:   slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Inject:   inject,

		ArbitrationTimeout: cfg.ArbitrationTimeout,
	})
	g := grpc.NewServer(h.srv.ServerOptions()...)
	h.g = g
	h.srv.Register(g)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(lis)
	h.addr = lis.Addr().String()
	conn, err := grpc.NewClient(h.addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		g.Stop()
	})
	h.cli = p4v1.NewP4RuntimeClient(conn)
	return h
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	return c
}

// eid is election_id n.
func eid(n uint64) *p4v1.Uint128 { return &p4v1.Uint128{Low: n} }

// ctlStream is one controller's StreamChannel.
type ctlStream struct {
	t      testing.TB
	stream p4v1.P4Runtime_StreamChannelClient
	cancel context.CancelFunc
	msgs   chan *p4v1.StreamMessageResponse
	done   chan error // the stream's final status, once
}

func (h *harness) open() *ctlStream {
	h.t.Helper()
	c, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	st, err := h.cli.StreamChannel(c)
	if err != nil {
		h.t.Fatal(err)
	}
	s := &ctlStream{t: h.t, stream: st, cancel: cancel, msgs: make(chan *p4v1.StreamMessageResponse, 2048), done: make(chan error, 1)}
	go func() {
		for {
			m, err := st.Recv()
			if err != nil {
				s.done <- err
				return
			}
			s.msgs <- m
		}
	}()
	return s
}

// connect opens a stream and sends a MasterArbitrationUpdate for the test
// device with election_id id (nil: unset).
func (h *harness) connect(id *p4v1.Uint128) *ctlStream {
	h.t.Helper()
	s := h.open()
	s.arbitrate(deviceID, id)
	return s
}

// primary connects with election_id n and expects to be primary.
func (h *harness) primary(n uint64) *ctlStream {
	h.t.Helper()
	s := h.connect(eid(n))
	s.wantArbitration(codes.OK, eid(n))
	return s
}

func (s *ctlStream) send(m *p4v1.StreamMessageRequest) {
	s.t.Helper()
	if err := s.stream.Send(m); err != nil && !errors.Is(err, io.EOF) {
		s.t.Fatalf("stream send: %v", err)
	}
}

func (s *ctlStream) arbitrate(device uint64, id *p4v1.Uint128) {
	s.t.Helper()
	s.send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{
		Arbitration: &p4v1.MasterArbitrationUpdate{DeviceId: device, ElectionId: id}}})
}

func (s *ctlStream) packetOut(p *p4v1.PacketOut) {
	s.t.Helper()
	s.send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Packet{Packet: p}})
}

// next returns the next message from the server.
func (s *ctlStream) next() *p4v1.StreamMessageResponse {
	s.t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case err := <-s.done:
		s.t.Fatalf("stream ended: %v", err)
	case <-time.After(wait):
		s.t.Fatal("no message from the server")
	}
	return nil
}

// wantArbitration expects an arbitration notification with status code
// and election_id highest (nil: unset).
func (s *ctlStream) wantArbitration(code codes.Code, highest *p4v1.Uint128) {
	s.t.Helper()
	m := s.next()
	a := m.GetArbitration()
	if a == nil {
		s.t.Fatalf("got %v, want an arbitration update", m)
	}
	if got := codes.Code(a.GetStatus().GetCode()); got != code {
		s.t.Fatalf("arbitration status %v (%q), want %v", got, a.GetStatus().GetMessage(), code)
	}
	if a.GetDeviceId() != deviceID {
		s.t.Errorf("arbitration device_id %d, want %d", a.GetDeviceId(), deviceID)
	}
	if !proto.Equal(a.GetElectionId(), highest) {
		s.t.Errorf("arbitration election_id %v, want %v", a.GetElectionId(), highest)
	}
}

// wantStreamError expects a StreamError with code.
func (s *ctlStream) wantStreamError(code codes.Code) *p4v1.StreamError {
	s.t.Helper()
	m := s.next()
	e := m.GetError()
	if e == nil {
		s.t.Fatalf("got %v, want a stream error", m)
	}
	if got := codes.Code(e.GetCanonicalCode()); got != code {
		s.t.Fatalf("stream error %v (%q), want %v", got, e.GetMessage(), code)
	}
	return e
}

// wantClosed expects the server to end the stream with code.
func (s *ctlStream) wantClosed(code codes.Code) {
	s.t.Helper()
	for {
		select {
		case m := <-s.msgs:
			s.t.Fatalf("got %v, want the stream to end with %v", m, code)
		case err := <-s.done:
			if got := status.Code(err); got != code {
				s.t.Fatalf("stream ended with %v, want %v", err, code)
			}
			return
		case <-time.After(wait):
			s.t.Fatalf("stream still open, want it to end with %v", code)
		}
	}
}

// wantQuiet expects no message for a short while.
func (s *ctlStream) wantQuiet() {
	s.t.Helper()
	select {
	case m := <-s.msgs:
		s.t.Fatalf("unexpected message %v", m)
	case err := <-s.done:
		s.t.Fatalf("stream ended: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
}

// close ends the stream from the client side, as a dying controller does.
func (s *ctlStream) close() { s.cancel() }

// pipelineConfig is the symdist pipeline as a controller pushes it.
func pipelineConfig() *p4v1.ForwardingPipelineConfig {
	return &p4v1.ForwardingPipelineConfig{
		P4Info:         p4info.MustLoad().Info,
		P4DeviceConfig: p4info.BMv2JSON(),
		Cookie:         &p4v1.ForwardingPipelineConfig_Cookie{Cookie: p4info.Cookie()},
	}
}

func (h *harness) setConfig(id *p4v1.Uint128, action p4v1.SetForwardingPipelineConfigRequest_Action, cfg *p4v1.ForwardingPipelineConfig) error {
	h.t.Helper()
	_, err := h.cli.SetForwardingPipelineConfig(ctx(h.t), &p4v1.SetForwardingPipelineConfigRequest{
		DeviceId: deviceID, ElectionId: id, Action: action, Config: cfg})
	return err
}

// commit sets the pipeline as the primary with election_id n.
func (h *harness) commit(n uint64) {
	h.t.Helper()
	if err := h.setConfig(eid(n), p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT, pipelineConfig()); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) write(id *p4v1.Uint128, updates ...*p4v1.Update) error {
	h.t.Helper()
	_, err := h.cli.Write(ctx(h.t), &p4v1.WriteRequest{DeviceId: deviceID, ElectionId: id, Updates: updates})
	return err
}

// ready returns a harness whose primary (election_id 1, stream returned)
// has set the pipeline and written the vectors' fixture.
func ready(t testing.TB) (*harness, *ctlStream) {
	t.Helper()
	h := newHarness(t)
	s := h.primary(1)
	h.commit(1)
	if err := h.write(eid(1), vectors.State(h.ids)...); err != nil {
		t.Fatalf("writing the fixture: %v", err)
	}
	return h, s
}

// readAll reads with the given query entities and returns every entity
// and the number of ReadResponses.
func (h *harness) readAll(query ...*p4v1.Entity) ([]*p4v1.Entity, int, error) {
	h.t.Helper()
	rc, err := h.cli.Read(ctx(h.t), &p4v1.ReadRequest{DeviceId: deviceID, Entities: query})
	if err != nil {
		return nil, 0, err
	}
	var out []*p4v1.Entity
	n := 0
	for {
		resp, err := rc.Recv()
		if errors.Is(err, io.EOF) {
			return out, n, nil
		}
		if err != nil {
			return out, n, err
		}
		n++
		if len(resp.GetEntities()) > 1000 {
			h.t.Errorf("a ReadResponse carries %d entities, want at most 1000", len(resp.GetEntities()))
		}
		out = append(out, resp.GetEntities()...)
	}
}

// updateCodes decodes the per-update codes of a failed Write: the status
// must be UNKNOWN with one p4.v1.Error per update.
func updateCodes(t testing.TB, err error, n int) []codes.Code {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.Unknown {
		t.Fatalf("Write: %v, want UNKNOWN with per-update errors", err)
	}
	details := st.Details()
	if len(details) != n {
		t.Fatalf("Write: %d error details, want one per update (%d)", len(details), n)
	}
	out := make([]codes.Code, n)
	for i, d := range details {
		pe, ok := d.(*p4v1.Error)
		if !ok {
			t.Fatalf("detail %d is %T, want *p4v1.Error", i, d)
		}
		out[i] = codes.Code(pe.GetCanonicalCode())
		if out[i] == codes.OK && (pe.GetMessage() != "" || pe.GetSpace() != "" || pe.GetCode() != 0) {
			t.Errorf("detail %d is OK with other fields set: %v", i, pe)
		}
	}
	return out
}

// sortEntities orders entities by their deterministic encoding.
func sortEntities(es []*p4v1.Entity) {
	type keyed struct {
		key []byte
		e   *p4v1.Entity
	}
	ks := make([]keyed, len(es))
	for i, e := range es {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(e)
		if err != nil {
			panic(err)
		}
		ks[i] = keyed{b, e}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return bytes.Compare(a.key, b.key) })
	for i := range ks {
		es[i] = ks[i].e
	}
}

// diffEntities is cmp.Diff of two entity lists, quick when they are equal
// (cmp is slow on thousands of messages).
func diffEntities(want, got []*p4v1.Entity) string {
	if slices.EqualFunc(want, got, func(a, b *p4v1.Entity) bool { return proto.Equal(a, b) }) {
		return ""
	}
	return cmp.Diff(want, got, protocmp.Transform())
}
