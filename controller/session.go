package controller

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
)

// Session is one P4Runtime connection to one switch: a stream for
// arbitration, and Write/Read/pipeline calls on the same connection. It is
// written for symdist's needs instead of using p4runtime-go-client, whose
// stream ends silently on EOF and whose writes drop per-update errors:
// here the stream's end is reported on Done, and every failed update comes
// back as an UpdateError naming its entity.
type Session struct {
	DeviceID   uint64
	ElectionID *p4v1.Uint128 // raised by claim when a primary is gone; guarded by mu
	conn       *grpc.ClientConn
	client     p4v1.P4RuntimeClient
	log        *slog.Logger

	mu      sync.Mutex
	primary bool
	changed chan struct{} // closed and replaced when primary changes
	done    chan struct{} // closed when the stream ends
	err     error         // why it ended
	stream  p4v1.P4Runtime_StreamChannelClient
}

// DialOptions returns the gRPC options for a switch: plaintext, TLS, or
// mutual TLS when the config gives a client certificate.
func DialOptions(t *config.TLS) ([]grpc.DialOption, error) {
	opts := []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64 << 20))}
	if t == nil {
		return append(opts, grpc.WithTransportCredentials(insecure.NewCredentials())), nil
	}
	tc := &tls.Config{ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no certificates", t.CA)
		}
		tc.RootCAs = pool
	}
	if t.Cert != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return append(opts, grpc.WithTransportCredentials(credentials.NewTLS(tc))), nil
}

// Open connects to a switch's P4Runtime server and starts arbitration. It
// returns once the first arbitration answer has come, or the context ends.
func Open(ctx context.Context, conn *grpc.ClientConn, deviceID, electionID uint64, log *slog.Logger) (*Session, error) {
	s := &Session{
		DeviceID:   deviceID,
		ElectionID: &p4v1.Uint128{High: 0, Low: electionID},
		conn:       conn,
		client:     p4v1.NewP4RuntimeClient(conn),
		log:        log,
		changed:    make(chan struct{}),
		done:       make(chan struct{}),
	}
	stream, err := s.client.StreamChannel(ctx)
	if err != nil {
		return nil, err
	}
	s.stream = stream
	err = stream.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{
		Arbitration: &p4v1.MasterArbitrationUpdate{DeviceId: deviceID, ElectionId: s.ElectionID},
	}})
	if err != nil {
		return nil, err
	}
	first := make(chan error, 1)
	go s.receive(first)
	select {
	case err := <-first:
		if err != nil {
			return nil, err
		}
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// receive reads the stream until it ends; the first arbitration answer (or
// error) goes to first.
func (s *Session) receive(first chan<- error) {
	answered := false
	for {
		msg, err := s.stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("stream closed by the switch")
			}
			if !answered {
				first <- err
			}
			s.mu.Lock()
			s.err = err
			s.primary = false
			close(s.done)
			s.mu.Unlock()
			return
		}
		switch u := msg.GetUpdate().(type) {
		case *p4v1.StreamMessageResponse_Arbitration:
			code := codes.Code(u.Arbitration.GetStatus().GetCode())
			primary := code == codes.OK
			if code == codes.NotFound && answered {
				// The primary is gone and the switch keeps the highest
				// election id it has seen: claim the switch with one more.
				s.claim(u.Arbitration.GetElectionId())
			}
			s.mu.Lock()
			if primary != s.primary {
				s.primary = primary
				close(s.changed)
				s.changed = make(chan struct{})
			}
			s.mu.Unlock()
			if !answered {
				answered = true
				first <- nil
			}
		case *p4v1.StreamMessageResponse_Error:
			s.log.Warn("stream error from switch", "code", codes.Code(u.Error.GetCanonicalCode()), "message", u.Error.GetMessage())
		}
	}
}

// claim re-sends arbitration with an election id above highest.
func (s *Session) claim(highest *p4v1.Uint128) {
	next := &p4v1.Uint128{High: highest.GetHigh(), Low: highest.GetLow() + 1}
	if next.Low == 0 {
		next.High++
	}
	if next.High < s.ElectionID.High || next.High == s.ElectionID.High && next.Low < s.ElectionID.Low {
		next = s.ElectionID
	}
	s.mu.Lock()
	s.ElectionID = next
	s.mu.Unlock()
	s.log.Info("switch has no primary; claiming it", "election_id_low", next.Low, "election_id_high", next.High)
	err := s.stream.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{
		Arbitration: &p4v1.MasterArbitrationUpdate{DeviceId: s.DeviceID, ElectionId: next},
	}})
	if err != nil {
		s.log.Warn("claiming the switch failed", "error", err)
	}
}

// electionID is the id this session now writes with.
func (s *Session) electionID() *p4v1.Uint128 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ElectionID
}

// Primary reports whether this session is the switch's primary, and a
// channel closed at the next change.
func (s *Session) Primary() (bool, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.primary, s.changed
}

// Done is closed when the stream ends; Err says why.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is why the stream ended.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the stream (the switch then elects another primary).
func (s *Session) Close() {
	_ = s.stream.CloseSend()
}

// PipelineCookie returns the cookie of the switch's pipeline, or ok=false
// when it has none.
func (s *Session) PipelineCookie(ctx context.Context) (cookie uint64, ok bool, err error) {
	resp, err := s.client.GetForwardingPipelineConfig(ctx, &p4v1.GetForwardingPipelineConfigRequest{
		DeviceId: s.DeviceID, ResponseType: p4v1.GetForwardingPipelineConfigRequest_COOKIE_ONLY,
	})
	if status.Code(err) == codes.FailedPrecondition || status.Code(err) == codes.NotFound {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if resp.GetConfig().GetCookie() == nil {
		return 0, false, nil
	}
	return resp.GetConfig().GetCookie().GetCookie(), true, nil
}

// SetPipeline pushes a pipeline (VERIFY_AND_COMMIT: the switch's state is
// cleared).
func (s *Session) SetPipeline(ctx context.Context, info *p4configv1.P4Info, deviceConfig []byte, cookie uint64) error {
	_, err := s.client.SetForwardingPipelineConfig(ctx, &p4v1.SetForwardingPipelineConfigRequest{
		DeviceId:   s.DeviceID,
		ElectionId: s.electionID(),
		Action:     p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT,
		Config: &p4v1.ForwardingPipelineConfig{
			P4Info: info, P4DeviceConfig: deviceConfig,
			Cookie: &p4v1.ForwardingPipelineConfig_Cookie{Cookie: cookie},
		},
	})
	return err
}

// UpdateError is one failed update of a Write, with the entity it was for.
type UpdateError struct {
	Index  int
	Update *p4v1.Update
	Code   codes.Code
	Msg    string
}

func (e *UpdateError) Error() string {
	ent, _ := prototext.MarshalOptions{}.Marshal(e.Update.GetEntity())
	return fmt.Sprintf("%v of %s: %v: %s", e.Update.GetType(), ent, e.Code, e.Msg)
}

// WriteError is a Write that failed as a whole or in some updates.
type WriteError struct {
	Err     error          // the call's error
	Updates []*UpdateError // the failed updates, decoded from the details
}

func (e *WriteError) Error() string {
	if len(e.Updates) == 0 {
		return fmt.Sprintf("write: %v", e.Err)
	}
	msg := fmt.Sprintf("write: %d updates failed; first: %v", len(e.Updates), e.Updates[0])
	return msg
}

func (e *WriteError) Unwrap() error { return e.Err }

// maxBatch is how many updates go in one Write call.
const maxBatch = 1000

// Write sends updates in batches of at most maxBatch. Every failed update is
// decoded from the status details and logged with its entity.
func (s *Session) Write(ctx context.Context, updates []*p4v1.Update) error {
	var failed []*UpdateError
	var firstErr error
	for start := 0; start < len(updates); start += maxBatch {
		batch := updates[start:min(start+maxBatch, len(updates))]
		_, err := s.client.Write(ctx, &p4v1.WriteRequest{
			DeviceId: s.DeviceID, ElectionId: s.electionID(), Updates: batch,
			Atomicity: p4v1.WriteRequest_CONTINUE_ON_ERROR,
		})
		if err == nil {
			continue
		}
		if firstErr == nil {
			firstErr = err
		}
		st := status.Convert(err)
		n := 0
		for _, d := range st.Details() {
			pe, ok := d.(*p4v1.Error)
			if !ok {
				continue
			}
			if pe.GetCanonicalCode() != int32(codes.OK) && n < len(batch) {
				ue := &UpdateError{Index: start + n, Update: batch[n], Code: codes.Code(pe.GetCanonicalCode()), Msg: pe.GetMessage()}
				failed = append(failed, ue)
				s.log.Error("update failed", "error", ue)
			}
			n++
		}
		if n == 0 {
			s.log.Error("write failed", "error", err, "updates", len(batch))
		}
		if st.Code() != codes.Unknown {
			// Not a per-update failure (e.g. PERMISSION_DENIED): stop.
			break
		}
	}
	if firstErr != nil {
		return &WriteError{Err: firstErr, Updates: failed}
	}
	return nil
}

// Read returns every entity matching the (wildcard) entities.
func (s *Session) Read(ctx context.Context, entities ...*p4v1.Entity) ([]*p4v1.Entity, error) {
	return ReadEntities(ctx, s.client, s.DeviceID, entities...)
}
