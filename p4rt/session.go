// SPDX-License-Identifier: Apache-2.0

package p4rt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/internal/backoff"
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
	other   bool          // another controller is primary (ALREADY_EXISTS)
	changed chan struct{} // closed and replaced when primary or other changes
	done    chan struct{} // closed when the stream ends
	err     error         // why it ended
	stream  p4v1.P4Runtime_StreamChannelClient
	sendMu  sync.Mutex          // serialises Send: claims are sent from timers
	limits  *ReadLimits         // bounds Read's answers; guarded by mu
	refused func(*RefusedError) // told of every refused answer; guarded by mu

	// Claiming a switch that has no primary, guarded by mu. One claim is
	// pending at a time; a claim answered by NOT_FOUND again is retried
	// after a backoff, so a switch that never accepts one (it has seen the
	// highest possible election id, or another controller keeps outbidding
	// us) costs a few messages a minute, not a busy loop.
	highest      *p4v1.Uint128 // the highest election id the switch reported
	claimTimer   *time.Timer   // the pending claim, or nil
	claimBackoff backoff.Backoff
	claiming     bool // a claim was sent and the switch has not made us primary since
	claims       int  // claims sent since the last time we were primary
	noHigherID   bool // the switch has seen {2^64-1, 2^64-1}: nobody can become primary
	claimHold    func() time.Duration
}

// An Option changes how Open sets up a session.
type Option func(*Session)

// WithClaimHold makes every claim wait while hold returns a positive
// duration: a controller pair uses it to let its peer take the switches
// after this controller stepped down from a split (docs/design.md).
func WithClaimHold(hold func() time.Duration) Option {
	return func(s *Session) { s.claimHold = hold }
}

// claimBackoffMin and claimBackoffMax space out claims that fail.
const (
	claimBackoffMin = 100 * time.Millisecond
	claimBackoffMax = 30 * time.Second
)

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
func Open(ctx context.Context, conn *grpc.ClientConn, deviceID, electionID uint64, log *slog.Logger, opts ...Option) (*Session, error) {
	s := &Session{
		DeviceID:     deviceID,
		ElectionID:   &p4v1.Uint128{High: 0, Low: electionID},
		conn:         conn,
		client:       p4v1.NewP4RuntimeClient(conn),
		log:          log,
		changed:      make(chan struct{}),
		done:         make(chan struct{}),
		claimBackoff: backoff.Backoff{Min: claimBackoffMin, Max: claimBackoffMax},
	}
	for _, o := range opts {
		o(s)
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
			if s.claimTimer != nil {
				s.claimTimer.Stop()
				s.claimTimer = nil
			}
			s.mu.Unlock()
			return
		}
		switch u := msg.GetUpdate().(type) {
		case *p4v1.StreamMessageResponse_Arbitration:
			code := codes.Code(u.Arbitration.GetStatus().GetCode())
			primary := code == codes.OK
			if code == codes.NotFound {
				// The switch has no primary and keeps the highest election
				// id it has seen: claim it with one more. The first answer
				// too: a controller started after every controller stopped
				// must take the switch, not wait as a backup of nobody.
				s.scheduleClaim(u.Arbitration.GetElectionId())
			}
			s.mu.Lock()
			if primary || code == codes.AlreadyExists {
				// Someone is primary: whatever contention there was is over.
				s.claiming, s.noHigherID = false, false
				s.claimBackoff.Reset()
				if s.claimTimer != nil { // a held claim would take it from the primary
					s.claimTimer.Stop()
					s.claimTimer = nil
				}
			}
			if primary {
				s.claims = 0
			}
			if other := code == codes.AlreadyExists; primary != s.primary || other != s.other {
				s.primary, s.other = primary, other
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

// scheduleClaim answers a NOT_FOUND (no primary) notification: the first
// claim goes at once (a quick failover), a repeated one after a backoff.
func (s *Session) scheduleClaim(highest *p4v1.Uint128) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.highest = highest
	if s.claimTimer != nil {
		return // the pending claim will use the newest highest id
	}
	var wait time.Duration
	if s.claiming {
		wait = s.claimBackoff.Next()
	}
	s.claiming = true
	s.claimTimer = time.AfterFunc(max(wait, s.holdLocked()), s.claim)
}

// holdLocked is how long claims must still wait (WithClaimHold).
func (s *Session) holdLocked() time.Duration {
	if s.claimHold == nil {
		return 0
	}
	return s.claimHold()
}

// claim re-sends arbitration with an election id above the highest the
// switch has seen. When that is {2^64-1, 2^64-1} there is none: no
// controller can become primary until the switch restarts. The session
// then says so (once per attempt, and in Stuck) and keeps asking, with
// the backoff, in case the switch forgets.
func (s *Session) claim() {
	s.mu.Lock()
	s.claimTimer = nil
	select {
	case <-s.done:
		s.mu.Unlock()
		return
	default:
	}
	if hold := s.holdLocked(); hold > 0 { // held since it was scheduled
		s.claimTimer = time.AfterFunc(hold, s.claim)
		s.mu.Unlock()
		return
	}
	s.claims++
	next, ok := above(s.highest)
	if !ok {
		s.noHigherID = true
		next = s.ElectionID
		s.log.Error("switch has seen the highest possible election id {2^64-1, 2^64-1}: no controller can become its primary until it restarts",
			"attempt", s.claims)
	} else {
		s.noHigherID = false
		if next.High < s.ElectionID.High || next.High == s.ElectionID.High && next.Low < s.ElectionID.Low {
			next = s.ElectionID
		}
		s.ElectionID = next
		s.log.Info("switch has no primary; claiming it", "election_id_low", next.Low, "election_id_high", next.High, "attempt", s.claims)
	}
	s.mu.Unlock()
	s.sendMu.Lock()
	err := s.stream.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{
		Arbitration: &p4v1.MasterArbitrationUpdate{DeviceId: s.DeviceID, ElectionId: next},
	}})
	s.sendMu.Unlock()
	if err != nil {
		s.log.Warn("claiming the switch failed", "error", err)
	}
}

// above returns the election id one above id, or ok=false when id is the
// highest there is.
func above(id *p4v1.Uint128) (next *p4v1.Uint128, ok bool) {
	if id.GetHigh() == math.MaxUint64 && id.GetLow() == math.MaxUint64 {
		return nil, false
	}
	next = &p4v1.Uint128{High: id.GetHigh(), Low: id.GetLow() + 1}
	if next.Low == 0 {
		next.High++
	}
	return next, true
}

// Stuck reports whether the switch has seen the highest possible election
// id, so that no controller can become its primary.
func (s *Session) Stuck() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.noHigherID
}

// Claims is how many claims the session has sent since it was last primary.
func (s *Session) Claims() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.claims
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

// OtherPrimary reports whether the switch's last arbitration answer said
// another controller is its primary (ALREADY_EXISTS), as opposed to none
// (NOT_FOUND) or this session (OK). Primary's channel closes on a change.
func (s *Session) OtherPrimary() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.other
}

// Done is closed when the stream ends; Err says why.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is why the stream ended.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Alive checks that the switch still answers calls on this connection: a
// Capabilities call, the cheapest there is, within ctx's deadline. Any
// answer from the server counts, an error status too; only a call that
// cannot reach it (UNAVAILABLE) or gets no answer in time fails.
func (s *Session) Alive(ctx context.Context) error {
	_, err := s.client.Capabilities(ctx, &p4v1.CapabilitiesRequest{})
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return err
	}
	return nil
}

// Close ends the stream (the switch then elects another primary).
func (s *Session) Close() {
	s.mu.Lock()
	if s.claimTimer != nil {
		s.claimTimer.Stop()
		s.claimTimer = nil
	}
	s.mu.Unlock()
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
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

// PipelineP4Info returns the P4Info of the switch's pipeline, or ok=false
// when it has none.
func (s *Session) PipelineP4Info(ctx context.Context) (info *p4configv1.P4Info, ok bool, err error) {
	resp, err := s.client.GetForwardingPipelineConfig(ctx, &p4v1.GetForwardingPipelineConfigRequest{
		DeviceId: s.DeviceID, ResponseType: p4v1.GetForwardingPipelineConfigRequest_P4INFO_AND_COOKIE,
	})
	if status.Code(err) == codes.FailedPrecondition || status.Code(err) == codes.NotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return resp.GetConfig().GetP4Info(), resp.GetConfig().GetP4Info() != nil, nil
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

// NewReader is a session that only reads (Read, PipelineCookie,
// PipelineP4Info): no stream, no arbitration, so it never disturbs the
// primary. Write and SetPipeline on it fail.
func NewReader(conn grpc.ClientConnInterface, deviceID uint64) *Session {
	return &Session{DeviceID: deviceID, client: p4v1.NewP4RuntimeClient(conn)}
}

// LimitReads bounds the answers of the session's Reads by limits (nil:
// SymdistReadLimits, as before any call) and calls refused, if not nil,
// with every refusal (a *RefusedError), for the caller's metric and log.
// Call it before the first Read.
func (s *Session) LimitReads(limits *ReadLimits, refused func(*RefusedError)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits, s.refused = limits, refused
}

// Read returns every entity matching the (wildcard) entities, bounded as
// ReadEntities says.
func (s *Session) Read(ctx context.Context, entities ...*p4v1.Entity) ([]*p4v1.Entity, error) {
	s.mu.Lock()
	limits, refused := s.limits, s.refused
	s.mu.Unlock()
	es, err := ReadEntities(ctx, s.client, s.DeviceID, limits, entities...)
	if r := (*RefusedError)(nil); refused != nil && errors.As(err, &r) {
		refused(r)
	}
	return es, err
}
