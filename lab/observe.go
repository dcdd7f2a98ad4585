// SPDX-License-Identifier: Apache-2.0

package lab

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/symdist/symdist/adminapi"
)

// TableLog records the bucket tables the controller publishes to watchers
// (as an observer, never waited for) with the time each arrived. A loss
// is published before the switches move a bucket away from a live TM, a
// gain after they hold its new owner, so the log brackets when each
// bucket moved on the switches.
type TableLog struct {
	mu     sync.Mutex
	tables []loggedTable
	cancel context.CancelFunc
	done   chan struct{}
}

type loggedTable struct {
	at      time.Time
	buckets []string
}

// ObserveTables starts a TableLog of the lab's group.
func (l *Lab) ObserveTables() *TableLog { return observeGroup(l.AdminURL, l.Token, "web") }

// observeGroup starts a TableLog of a group of the controller at url.
func observeGroup(url, token, group string) *TableLog {
	ctx, cancel := context.WithCancel(context.Background())
	tl := &TableLog{cancel: cancel, done: make(chan struct{})}
	f := adminapi.Follower{Client: &adminapi.Client{URL: url, Token: token, HTTP: &http.Client{Timeout: 5 * time.Second, Transport: direct}}, Group: group,
		Apply: func(ev adminapi.Event) error {
			tl.mu.Lock()
			tl.tables = append(tl.tables, loggedTable{time.Now(), ev.Buckets})
			tl.mu.Unlock()
			return nil
		}}
	go func() { defer close(tl.done); f.Run(ctx) }()
	return tl
}

// Stop ends the log.
func (tl *TableLog) Stop() {
	tl.cancel()
	<-tl.done
}

// Moved reports when bucket b moved from one TM to another on the
// switches, at the latest: after the last table naming from and before the
// first (arriving after since) naming to. Zero times when the log has no
// such tables.
func (tl *TableLog) Moved(b int, from, to string, since time.Time) (after, before time.Time) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, t := range tl.tables {
		switch {
		case t.buckets[b] == from:
			after = t.at
		case t.buckets[b] == to && !t.at.Before(since):
			return after, t.at
		}
	}
	return after, before
}
