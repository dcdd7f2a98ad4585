// SPDX-License-Identifier: Apache-2.0

package adminapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// Stream is one open watch: GET /api/watch.
type Stream struct {
	Hello Event // the first line

	c      *Client
	base   string // the controller it is open on: acks go there
	body   io.ReadCloser
	r      *bufio.Reader
	idle   *time.Timer // cancels the request when the controller goes quiet
	cancel context.CancelFunc
	last   uint64 // version of the last table
}

// Watch subscribes: for a TM (tm != ""; the controller then waits for this
// subscriber's acks when the TM loses buckets) or, with tm == "", for a
// group as an observer. It returns once the hello line is read. With
// several controllers (Client.URL) it subscribes to the primary.
func (c *Client) Watch(ctx context.Context, tm, group string) (*Stream, error) {
	var s *Stream
	err := c.follow(func(u string) error {
		var err error
		s, err = c.watchAt(ctx, u, tm, group)
		return err
	})
	return s, err
}

// watchAt subscribes at the controller at base.
func (c *Client) watchAt(ctx context.Context, base, tm, group string) (*Stream, error) {
	q := url.Values{}
	if tm != "" {
		q.Set("tm", tm)
	} else {
		q.Set("group", group)
	}
	ctx, cancel := context.WithCancel(ctx)
	req, err := c.newRequest(ctx, base, http.MethodGet, "/api/watch?"+q.Encode(), nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "application/x-ndjson")
	hc := &http.Client{} // no overall timeout: the stream lasts
	if c.HTTP != nil {
		hc.Transport = c.HTTP.Transport
	}
	s := &Stream{c: c, base: base, cancel: cancel, idle: time.AfterFunc(IdleLimit, cancel)}
	resp, err := hc.Do(req)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.body = resp.Body
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		s.Close()
		return nil, responseError(req, resp, body)
	}
	s.r = bufio.NewReaderSize(resp.Body, 64<<10)
	ev, err := s.line()
	if err != nil {
		s.Close()
		return nil, err
	}
	if ev.Type != EventHello || ev.Subscriber == "" {
		s.Close()
		return nil, fmt.Errorf("watch %s: first line is %q, want a hello with a subscriber id", req.URL, ev.Type)
	}
	s.Hello = ev
	return s, nil
}

// line reads one event.
func (s *Stream) line() (Event, error) {
	var b []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		b = append(b, chunk...)
		if len(b) > MaxLine {
			return Event{}, fmt.Errorf("watch: line longer than %d bytes", MaxLine)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the controller never ends a stream itself
			}
			return Event{}, fmt.Errorf("watch: %w", err)
		}
		break
	}
	s.idle.Reset(IdleLimit)
	var ev Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return Event{}, fmt.Errorf("watch: bad line: %w", err)
	}
	return ev, nil
}

// Next returns the next table event; pings are skipped. Versions only
// grow within a stream: a table that does not is an error. A table that
// fails BucketTable.Check is returned with an error wrapping ErrBadTable;
// the stream goes on.
func (s *Stream) Next() (Event, error) {
	for {
		ev, err := s.line()
		if err != nil {
			return ev, err
		}
		if ev.Type != EventTable {
			continue // ping, or a type a newer controller added
		}
		if ev.Version <= s.last {
			return ev, fmt.Errorf("watch: table version %d after %d", ev.Version, s.last)
		}
		s.last = ev.Version
		bt := BucketTable{Group: ev.Group, Buckets: ev.Buckets, Chains: ev.Chains, Peers: ev.Peers}
		if err := bt.Check(); err != nil {
			// The stream goes on: the table is refused, not acknowledged.
			return ev, fmt.Errorf("watch: table version %d refused: %w", ev.Version, err)
		}
		return ev, nil
	}
}

// Ack acknowledges every table up to version.
func (s *Stream) Ack(ctx context.Context, version uint64) error {
	return s.AckInUse(ctx, version, nil)
}

// AckInUse is Ack with the ports the TM still uses in buckets it lost.
// It goes to the controller the stream is open on (its subscriber ids are
// its own), never to another of the client's.
func (s *Stream) AckInUse(ctx context.Context, version uint64, inUse []InUse) error {
	return s.c.doAt(ctx, s.base, http.MethodPost, "/api/watch/"+url.PathEscape(s.Hello.Subscriber)+"/ack", Ack{Version: version, InUse: inUse}, nil)
}

// Close ends the subscription.
func (s *Stream) Close() {
	s.idle.Stop()
	s.cancel()
	if s.body != nil {
		s.body.Close()
	}
}

// IsPermanent reports whether a failed subscription will fail again the
// same way (a TM or group the controller does not know, a wrong token):
// retrying cannot help until the configuration changes.
func IsPermanent(err error) bool {
	var he *HTTPError
	if !errors.As(err, &he) {
		return false
	}
	switch he.Code {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return true
	}
	return false
}

// Follower keeps a subscription open: it subscribes, applies every table
// and acknowledges it, and subscribes again after a lost stream, with
// backoff, until its context ends.
type Follower struct {
	Client *Client
	// TM to follow (its group's table; the controller waits for its
	// acks), or with TM empty, Group to observe.
	TM, Group string
	// Apply takes each table in order. When it returns nil the version is
	// acknowledged; an error leaves it unacknowledged (the controller
	// proceeds after its handover timeout).
	Apply func(Event) error
	// OnError hears every failed subscription, lost stream or failed
	// ack; nil: ignore. Follow keeps trying.
	OnError func(error)
	// InUse, when set, is sent with every ack: the self ports the TM
	// still uses in buckets it lost (Ack.InUse).
	InUse func() []InUse
}

// Run follows until ctx ends.
func (f *Follower) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		got, err := f.once(ctx)
		if ctx.Err() != nil {
			return
		}
		if got {
			backoff = 100 * time.Millisecond
		}
		if err != nil && f.OnError != nil {
			f.OnError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff + rand.N(backoff/2+1)):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// once runs one subscription; got reports whether it delivered a table.
func (f *Follower) once(ctx context.Context) (got bool, err error) {
	s, err := f.Client.Watch(ctx, f.TM, f.Group)
	if err != nil {
		return false, err
	}
	defer s.Close()
	for {
		ev, err := s.Next()
		if errors.Is(err, ErrBadTable) {
			if f.OnError != nil {
				f.OnError(err) // not applied, not acknowledged
			}
			continue
		}
		if err != nil {
			return got, err
		}
		got = true
		if err := f.Apply(ev); err != nil {
			if f.OnError != nil {
				f.OnError(fmt.Errorf("table version %d not applied: %w", ev.Version, err))
			}
			continue
		}
		var inUse []InUse
		if f.InUse != nil {
			inUse = f.InUse()
		}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = s.AckInUse(actx, ev.Version, inUse)
		cancel()
		if err != nil && f.OnError != nil {
			f.OnError(fmt.Errorf("ack of version %d: %w", ev.Version, err))
		}
	}
}
