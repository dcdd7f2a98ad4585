// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/internal/strictjson"
)

// subscriber is one open watch stream. Its mailbox holds only the latest
// table: every table is whole, so a slow reader skips to the newest.
type subscriber struct {
	// id is 128 random bits in hex: only the stream's reader knows it, so
	// only it can acknowledge for its TM.
	id, tm, group string
	acked         uint64 // highest version acknowledged; guarded by c.mu
	// inUse: the in_use of its last ack, until a report of its TM
	// replaces it (held.go); guarded by c.mu.
	inUse []adminapi.InUse

	mu   sync.Mutex
	next *adminapi.Event
	wake chan struct{}
}

func (s *subscriber) offer(ev adminapi.Event) {
	s.mu.Lock()
	s.next = &ev
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) take() *adminapi.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := s.next
	s.next = nil
	return ev
}

// watchRoutes adds the watch protocol (docs/tmapi.md) and the weight call
// to the admin API.
func (c *Controller) watchRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/watch", c.serveWatch)
	mux.HandleFunc("POST /api/watch/{subscriber}/ack", c.serveAck)
	mux.HandleFunc("POST /api/tms/{tm}/weight", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Weight *int `json:"weight"` // adminapi.Weight, required
		}
		if err := c.readJSON(w, r, &body); err != nil {
			return
		}
		if body.Weight == nil {
			c.badBody(w, r, errors.New(`body: want {"weight": N}`))
			return
		}
		name := r.PathValue("tm")
		c.mu.Lock()
		known := c.cfg.TM(name) != nil
		c.mu.Unlock()
		if !known {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no TM %q", name)})
			return
		}
		if err := c.SetWeight(name, *body.Weight); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"tm": name, "weight": *body.Weight})
	})
}

// maxBody bounds the admin API's small JSON bodies (weights); a config
// has its own bound (maxConfigBody), and acks and reports theirs
// (maxInUseBody).
const maxBody = 64 << 10

// maxInUseBody bounds an ack or a report: their in_use can list
// thousands of ports.
const maxInUseBody = 1 << 20

// readJSON decodes a small JSON body strictly (internal/strictjson: one
// value, no unknown fields, no duplicate keys). On an error it has
// answered 400 (413 for a body over maxBody) and counted the refusal.
func (c *Controller) readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return c.readJSONMax(w, r, v, maxBody)
}

func (c *Controller) readJSONMax(w http.ResponseWriter, r *http.Request, v any, max int64) error {
	err := strictjson.Decode(http.MaxBytesReader(w, r.Body, max+1), v, max)
	if err != nil {
		c.badBody(w, r, fmt.Errorf("body: %w", err))
	}
	return err
}

// badBody answers a refused body: 413 when it is too large, else 400.
func (c *Controller) badBody(w http.ResponseWriter, r *http.Request, err error) {
	c.refuse(r, refusedBadBody, err)
	code := http.StatusBadRequest
	var mbe *http.MaxBytesError
	if errors.Is(err, strictjson.ErrTooLarge) || errors.As(err, &mbe) {
		code = http.StatusRequestEntityTooLarge
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

// newSubscriberID returns 128 random bits in hex.
func newSubscriberID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// serveWatch streams a group's tables as newline-delimited JSON: a hello,
// the table in force (once there is one), every new table, and pings.
func (c *Controller) serveWatch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tm, group := q.Get("tm"), q.Get("group")
	if (tm == "") == (group == "") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "give either tm=NAME (a TM's subscriber) or group=NAME (an observer)"})
		return
	}
	c.mu.Lock()
	if tm != "" {
		t := c.cfg.TM(tm)
		if t == nil {
			c.mu.Unlock()
			writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no TM %q", tm)})
			return
		}
		group = t.Group
	} else if c.cfg.Group(group) == nil {
		c.mu.Unlock()
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no group %q", group)})
		return
	}
	if c.ho.isClosed {
		c.mu.Unlock()
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "shutting down"})
		return
	}
	s := &subscriber{id: newSubscriberID(), tm: tm, group: group, wake: make(chan struct{}, 1)}
	c.ho.subs[s.id] = s
	c.ho.subscribers.Inc()
	if g := c.ho.groups[group]; g != nil && g.published != nil {
		s.offer(adminapi.Event{Type: adminapi.EventTable, Group: group, Version: g.version, Kind: adminapi.KindInitial, Buckets: g.published,
			Chains: c.chainsLocked(group, time.Now()), Peers: c.peersLocked(group), Held: c.heldLocked(group)})
	}
	hello := adminapi.Event{Type: adminapi.EventHello, Subscriber: s.id, TM: tm, Group: group,
		HandoverTimeoutMS: c.cfg.Handover().Milliseconds()}
	c.mu.Unlock()
	defer c.unsubscribe(s)

	// The controller unwraps middleware's writers to flush. A stream
	// lasts: the server's WriteTimeout would end it, so each line gets
	// adminBounds.write to go out instead, and a reader that stops
	// reading ends its stream. (net/http lifts the read deadline itself
	// while the handler runs.)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	writeFor := c.adminBounds.write
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w) // one object a line
	send := func(ev adminapi.Event) bool {
		if writeFor > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(writeFor))
		}
		return enc.Encode(ev) == nil && rc.Flush() == nil
	}
	if !send(hello) {
		return
	}
	ping := time.NewTicker(c.adminBounds.ping)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.ho.closing:
			return
		case <-ping.C:
			if !send(adminapi.Event{Type: adminapi.EventPing}) {
				return
			}
		case <-s.wake:
			if ev := s.take(); ev != nil && !send(*ev) {
				return
			}
		}
	}
}

// unsubscribe drops a subscriber; losses its TM held up may now go ahead.
func (c *Controller) unsubscribe(s *subscriber) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.ho.subs, s.id)
	c.keepInUseLocked(s)
	c.ho.subscribers.Dec()
	if c.releaseLocked(s.group) {
		c.bumpLocked()
	}
}

// serveAck takes an ack: {"version": N}, N at least 1 (versions start at
// 1), never published versions refused (400), nor one lower than the
// subscriber's last ack (409: acks never go backwards; the same one again
// is fine).
func (c *Controller) serveAck(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Version *uint64          `json:"version"` // adminapi.Ack, required
		InUse   []adminapi.InUse `json:"in_use"`
	}
	if err := c.readJSONMax(w, r, &body, maxInUseBody); err != nil {
		return
	}
	if body.Version == nil || *body.Version == 0 {
		c.badBody(w, r, errors.New(`body: want {"version": N}, N a published version (1 or more)`))
		return
	}
	id := r.PathValue("subscriber")
	status, err := c.ack(id, *body.Version, body.InUse)
	if err != nil {
		if status == http.StatusConflict {
			c.refuse(r, refusedStaleAck, err)
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscriber": id, "version": *body.Version})
}

var errNoSubscriber = errors.New("no such subscriber (its stream has ended)")

// ack records that a subscriber applied every table up to version.
func (c *Controller) ack(id string, version uint64, inUse []adminapi.InUse) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.ho.subs[id]
	if s == nil {
		return http.StatusNotFound, errNoSubscriber
	}
	if g := c.ho.groups[s.group]; g == nil || version > g.version {
		return http.StatusBadRequest, fmt.Errorf("version %d was never published", version)
	}
	if version < s.acked {
		return http.StatusConflict, fmt.Errorf("ack of version %d after %d: acks never go backwards", version, s.acked)
	}
	if s.tm != "" {
		// Before the ack releases the loss: the gain that follows carries
		// these ports (held.go).
		in, err := c.checkInUseLocked(s.tm, inUse)
		if err != nil {
			return http.StatusBadRequest, err
		}
		s.inUse = in
	} else if len(inUse) > 0 {
		return http.StatusBadRequest, fmt.Errorf("in_use from an observer (a watch without tm)")
	}
	if version > s.acked {
		s.acked = version
		if c.releaseLocked(s.group) {
			c.bumpLocked()
		}
	}
	return http.StatusOK, nil
}

// closeWatches ends every watch stream: the admin API is shutting down.
func (c *Controller) closeWatches() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ho.isClosed {
		c.ho.isClosed = true
		close(c.ho.closing)
	}
}
