// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/symdist/symdist/adminapi"
)

// subscriber is one open watch stream. Its mailbox holds only the latest
// table: every table is whole, so a slow reader skips to the newest.
type subscriber struct {
	id, tm, group string
	acked         uint64 // highest version acknowledged; guarded by c.mu

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
		var body adminapi.Weight
		if err := readJSON(r, &body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
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
		if err := c.SetWeight(name, body.Weight); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"tm": name, "weight": body.Weight})
	})
}

// readJSON decodes a small JSON body, rejecting unknown fields.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20)) // an ack's in_use can list thousands of ports
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
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
	c.ho.lastSub++
	s := &subscriber{id: strconv.FormatUint(c.ho.lastSub, 10), tm: tm, group: group, wake: make(chan struct{}, 1)}
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

	// The controller unwraps middleware's writers to flush; a stream
	// has no write deadline.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w) // one object a line
	send := func(ev adminapi.Event) bool {
		return enc.Encode(ev) == nil && rc.Flush() == nil
	}
	if !send(hello) {
		return
	}
	ping := time.NewTicker(adminapi.PingInterval)
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
	c.ho.subscribers.Dec()
	if c.releaseLocked(s.group) {
		c.bumpLocked()
	}
}

func (c *Controller) serveAck(w http.ResponseWriter, r *http.Request) {
	var body adminapi.Ack
	if err := readJSON(r, &body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	id := r.PathValue("subscriber")
	status, err := c.ack(id, body.Version, body.InUse)
	if err != nil {
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscriber": id, "version": body.Version})
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
	if s.tm != "" {
		// Before the ack releases the loss: the gain that follows carries
		// these ports (held.go).
		if err := c.noteInUseLocked(s.tm, inUse); err != nil {
			return http.StatusBadRequest, err
		}
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
