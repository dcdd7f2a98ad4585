// SPDX-License-Identifier: Apache-2.0

package p4rtserver

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Client arbitration, P4Runtime spec §5 and §16.2, for the default role
// only. The server remembers the highest election_id it has ever
// received (election_id_past); the controller whose stream holds it is the
// primary. When the primary goes away nobody is promoted: the device has
// no primary until a controller sends an election_id at least that high
// (spec v1.1 on, as Stratum and PINS do).

// electionID is a P4Runtime Uint128.
type electionID struct{ hi, lo uint64 }

func electionIDOf(u *p4v1.Uint128) (electionID, bool) {
	if u == nil {
		return electionID{}, false
	}
	return electionID{u.GetHigh(), u.GetLow()}, true
}

func (a electionID) less(b electionID) bool {
	return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo
}

func (a electionID) proto() *p4v1.Uint128 { return &p4v1.Uint128{High: a.hi, Low: a.lo} }

func (a electionID) String() string {
	if a.hi == 0 {
		return fmt.Sprint(a.lo)
	}
	return fmt.Sprintf("{high:%d low:%d}", a.hi, a.lo)
}

// Queue lengths of a stream. Notifications are never dropped: a
// controller that leaves ctrlQueue of them unread loses its stream.
// Packet-ins are dropped when packetQueue is full, as the spec allows.
const (
	ctrlQueue   = 64
	packetQueue = 1024
)

// conn is one StreamChannel. Its handler goroutine is the only sender on
// the stream; others queue messages for it.
type conn struct {
	peer string

	// Guarded by Server.mu.
	arbitrated bool // accepted a MasterArbitrationUpdate, in Server.conns
	hasID      bool
	id         electionID
	opened     time.Time     // when it came, for MaxUnarbitrated
	ended      bool          // ended by the server before it arbitrated
	evicted    chan struct{} // closed when ended for MaxUnarbitrated

	ctrl         chan *p4v1.StreamMessageResponse // arbitration notifications
	packets      chan *p4v1.StreamMessageResponse // packet-ins
	overflow     chan struct{}                    // closed when ctrl overflows
	overflowOnce sync.Once
}

func newConn(peer string) *conn {
	return &conn{
		peer:     peer,
		ctrl:     make(chan *p4v1.StreamMessageResponse, ctrlQueue),
		packets:  make(chan *p4v1.StreamMessageResponse, packetQueue),
		overflow: make(chan struct{}),
		evicted:  make(chan struct{}),
	}
}

// errEvicted ends a stream that had sent no arbitration message when
// MaxUnarbitrated newer ones came.
var errEvicted = status.Errorf(codes.ResourceExhausted,
	"%d newer streams have sent no arbitration message either: the oldest is ended (arbitrate at once)", MaxUnarbitrated)

// admit takes in a new stream, not yet arbitrated. Past MaxUnarbitrated
// such streams the oldest is ended: a newcomer always gets its chance.
func (s *Server) admit(c *conn) {
	var old *conn
	s.mu.Lock()
	c.opened = time.Now()
	if len(s.waiting) >= MaxUnarbitrated {
		for o := range s.waiting {
			if old == nil || o.opened.Before(old.opened) {
				old = o
			}
		}
		delete(s.waiting, old)
		old.ended = true
		close(old.evicted)
	}
	s.waiting[c] = struct{}{}
	s.mu.Unlock()
	if old != nil {
		s.refuse(reasonUnarbitrated, old.peer, "p4rtserver: stream ended: too many streams without an arbitration message", "limit", MaxUnarbitrated)
	}
}

// expire is called when c's ArbitrationTimeout is over. It returns nil if
// c has arbitrated (it goes on), else the status to end it with.
func (s *Server) expire(c *conn) error {
	s.mu.Lock()
	switch {
	case c.arbitrated:
		s.mu.Unlock()
		return nil
	case c.ended: // evicted at the same time: counted as that
		s.mu.Unlock()
		return errEvicted
	}
	delete(s.waiting, c)
	c.ended = true
	s.mu.Unlock()
	s.refuse(reasonArbitrationTimeout, c.peer, "p4rtserver: stream ended: no arbitration message in time", "timeout", s.arbTimeout)
	return status.Errorf(codes.DeadlineExceeded, "no arbitration message within %v of opening the stream", s.arbTimeout)
}

// isPrimaryLocked reports whether c is the primary. s.mu must be held.
func (s *Server) isPrimaryLocked(c *conn) bool {
	return c.arbitrated && c.hasID && s.hasHigh && c.id == s.highest
}

// primaryLocked returns the primary's stream, or nil. s.mu must be held.
func (s *Server) primaryLocked() *conn {
	if !s.hasHigh {
		return nil
	}
	for c := range s.conns {
		if s.isPrimaryLocked(c) {
			return c
		}
	}
	return nil
}

// checkPrimary admits a Write or SetForwardingPipelineConfig carrying
// election_id u: only the primary's.
func (s *Server) checkPrimary(u *p4v1.Uint128) error {
	id, ok := electionIDOf(u)
	if !ok {
		return status.Error(codes.PermissionDenied, "no election_id: only the primary controller may change the device")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.hasHigh || id != s.highest {
		return status.Errorf(codes.PermissionDenied, "election_id %v is not the primary's", id)
	}
	if s.primaryLocked() == nil {
		return status.Errorf(codes.PermissionDenied, "election_id %v has no live stream: the device has no primary", id)
	}
	return nil
}

// arbitrate handles a MasterArbitrationUpdate received on c. An error ends
// the stream with that status (spec §5.3).
func (s *Server) arbitrate(c *conn, u *p4v1.MasterArbitrationUpdate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ended {
		return errEvicted
	}
	if !c.arbitrated {
		if u.GetDeviceId() != s.deviceID {
			return status.Errorf(codes.NotFound, "unknown device_id %d (this is device %d)", u.GetDeviceId(), s.deviceID)
		}
		if name := u.GetRole().GetName(); name != "" {
			return status.Errorf(codes.Unimplemented, "role %q: only the default role is supported", name)
		}
	} else {
		if u.GetDeviceId() != s.deviceID {
			return status.Errorf(codes.FailedPrecondition, "the stream is for device %d, not %d", s.deviceID, u.GetDeviceId())
		}
		if name := u.GetRole().GetName(); name != "" {
			return status.Errorf(codes.FailedPrecondition, "the stream is for the default role, not %q", name)
		}
	}
	if u.GetRole().GetConfig() != nil {
		return status.Error(codes.InvalidArgument, "the default role takes no role config")
	}
	id, hasID := electionIDOf(u.GetElectionId())
	if hasID {
		for o := range s.conns {
			if o != c && o.hasID && o.id == id {
				return status.Errorf(codes.InvalidArgument, "election_id %v is used by another controller", id)
			}
		}
	}
	if !c.arbitrated || c.hasID != hasID {
		if err := s.checkRoomLocked(hasID, c.peer); err != nil {
			return err
		}
	}

	// The same message again on a stream changes nothing; it is answered
	// as any other.
	repeat := c.arbitrated && c.hasID == hasID && c.id == id
	wasPrimary := s.isPrimaryLocked(c)
	c.hasID, c.id = hasID, id
	if !c.arbitrated {
		c.arbitrated = true
		s.conns[c] = struct{}{}
		delete(s.waiting, c)
	}
	// Logged once per logInterval per stream address and kind, so that a
	// stream repeating its message, or alternating between election_ids,
	// cannot flood the log; the line counts those held back.
	logChange := func(msg string, args ...any) {
		if repeat {
			msg += " (arbitration message repeated)"
		}
		s.limits.Log(s.log, slog.LevelInfo, msg+"|"+c.peer, msg, append(args, "peer", c.peer)...)
	}
	switch {
	case hasID && (!s.hasHigh || !id.less(s.highest)):
		s.highest, s.hasHigh = id, true
		logChange("p4rtserver: new primary", "election_id", id)
		s.notifyAllLocked(c)
	case wasPrimary:
		logChange("p4rtserver: primary stepped down, no primary", "election_id", id)
		s.notifyAllLocked(nil)
	default:
		logChange("p4rtserver: backup controller", "election_id", electionIDString(id, hasID))
		s.notifyLocked(c)
	}
	return nil
}

// checkRoomLocked admits one more stream with (hasID) or without an
// election_id: each kind has its own limit, so that streams that can never
// be primary cannot take the places of controllers. s.mu must be held.
func (s *Server) checkRoomLocked(hasID bool, peer string) error {
	n := 0
	for o := range s.conns {
		if o.hasID == hasID {
			n++
		}
	}
	switch {
	case hasID && n >= MaxControllers:
		s.refuse(reasonControllers, peer, "p4rtserver: stream refused: too many controllers", "limit", MaxControllers)
		return status.Errorf(codes.ResourceExhausted, "too many controllers (%d streams with an election_id)", MaxControllers)
	case !hasID && n >= MaxObservers:
		s.refuse(reasonObservers, peer, "p4rtserver: stream refused: too many streams without an election_id", "limit", MaxObservers)
		return status.Errorf(codes.ResourceExhausted, "too many streams without an election_id (%d)", MaxObservers)
	}
	return nil
}

func electionIDString(id electionID, ok bool) string {
	if !ok {
		return "unset"
	}
	return id.String()
}

// disconnect forgets c when its stream ends, telling the others when it
// was the primary.
func (s *Server) disconnect(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.waiting, c)
	if !c.arbitrated {
		return
	}
	wasPrimary := s.isPrimaryLocked(c)
	delete(s.conns, c)
	c.arbitrated = false
	if wasPrimary {
		s.limits.Log(s.log, slog.LevelInfo, "disconnected|"+c.peer, "p4rtserver: primary disconnected, no primary", "election_id", c.id, "peer", c.peer)
		s.notifyAllLocked(nil)
	}
}

// notifyAllLocked sends every stream its arbitration status, the new
// primary (if not nil) last, as spec §5.3 orders it.
func (s *Server) notifyAllLocked(primary *conn) {
	for c := range s.conns {
		if c != primary {
			s.notifyLocked(c)
		}
	}
	if primary != nil {
		s.notifyLocked(primary)
	}
}

// notifyLocked queues c's arbitration status (spec §5.4): OK for the
// primary, ALREADY_EXISTS for a backup while there is a primary, NOT_FOUND
// when there is none; election_id is the highest ever received.
func (s *Server) notifyLocked(c *conn) {
	u := &p4v1.MasterArbitrationUpdate{DeviceId: s.deviceID}
	if s.hasHigh {
		u.ElectionId = s.highest.proto()
	}
	switch {
	case s.isPrimaryLocked(c):
		u.Status = &spb.Status{Code: int32(codes.OK), Message: "primary"}
	case s.primaryLocked() != nil:
		u.Status = &spb.Status{Code: int32(codes.AlreadyExists), Message: "backup: another controller is primary"}
	default:
		u.Status = &spb.Status{Code: int32(codes.NotFound), Message: "backup: the device has no primary"}
	}
	m := &p4v1.StreamMessageResponse{Update: &p4v1.StreamMessageResponse_Arbitration{Arbitration: u}}
	select {
	case c.ctrl <- m:
	default:
		c.overflowOnce.Do(func() { close(c.overflow) })
	}
}
