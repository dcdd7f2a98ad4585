// SPDX-License-Identifier: Apache-2.0

// Package adminapitest is a fake controller admin API for tests of TMs and
// other subscribers: it serves the watch protocol of docs/tmapi.md from
// the spec alone (tables the test pushes, acks it records), so a
// subscriber's tests never link the controller.
package adminapitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/internal/strictjson"
)

// Watch serves GET /api/watch?tm=TM (subscriber id "s1"),
// POST /api/watch/s1/ack and POST /api/tms/TM/report for one TM of group
// "web".
type Watch struct {
	URL     string
	TM      string
	tables  chan adminapi.Event
	acks    chan uint64
	reports chan adminapi.Report

	mu        sync.Mutex
	onAck     func(version uint64)
	lastInUse []adminapi.InUse
}

// NewWatch starts the fake; it stops at the test's cleanup.
func NewWatch(t testing.TB, tm string) *Watch {
	f := &Watch{TM: tm, tables: make(chan adminapi.Event, 16), acks: make(chan uint64, 16), reports: make(chan adminapi.Report, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/watch", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("tm") != tm {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error":"no TM %q"}`, r.URL.Query().Get("tm"))
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		_ = enc.Encode(adminapi.Event{Type: adminapi.EventHello, Subscriber: "s1", TM: tm, Group: "web", HandoverTimeoutMS: 1000})
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case ev := <-f.tables:
				_ = enc.Encode(ev)
				w.(http.Flusher).Flush()
			}
		}
	})
	mux.HandleFunc("POST /api/watch/s1/ack", func(w http.ResponseWriter, r *http.Request) {
		var a adminapi.Ack
		if err := strictjson.Decode(r.Body, &a, 64<<10); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		onAck := f.onAck
		f.lastInUse = a.InUse
		f.mu.Unlock()
		if onAck != nil {
			onAck(a.Version)
		}
		f.acks <- a.Version
		_, _ = w.Write([]byte(`{}`))
	})
	mux.HandleFunc("POST /api/tms/{tm}/report", func(w http.ResponseWriter, r *http.Request) {
		var rep adminapi.Report
		if r.PathValue("tm") != tm || strictjson.Decode(r.Body, &rep, 64<<10) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		select {
		case f.reports <- rep:
		default: // the test reads none, or is behind: keep the first
		}
		_, _ = w.Write([]byte(`{}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// Push sends a table to the subscriber.
func (f *Watch) Push(version uint64, kind string, buckets []string) {
	f.tables <- adminapi.Event{Type: adminapi.EventTable, Group: "web", Version: version, Kind: kind, Buckets: buckets}
}

// PushEvent sends a table event as given (with chains, peers, held ports).
func (f *Watch) PushEvent(ev adminapi.Event) {
	ev.Type, ev.Group = adminapi.EventTable, "web"
	f.tables <- ev
}

// LastInUse is the in_use of the last ack.
func (f *Watch) LastInUse() []adminapi.InUse {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastInUse
}

// OnAck runs fn when an ack arrives, before it is answered.
func (f *Watch) OnAck(fn func(version uint64)) {
	f.mu.Lock()
	f.onAck = fn
	f.mu.Unlock()
}

// Reports delivers the TM's reports (POST /api/tms/{tm}/report), in
// order; past 16 unread, later ones are dropped.
func (f *Watch) Reports() <-chan adminapi.Report { return f.reports }

// Acks delivers the versions acknowledged, in order.
func (f *Watch) Acks() <-chan uint64 { return f.acks }

// WaitAck waits up to 5 s for the next ack and checks its version.
func (f *Watch) WaitAck(t testing.TB, want uint64) {
	t.Helper()
	select {
	case v := <-f.acks:
		if v != want {
			t.Fatalf("ack of version %d, want %d", v, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no ack of version %d", want)
	}
}
