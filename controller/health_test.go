// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/symdist/symdist/config"
)

func TestDebounce(t *testing.T) {
	tests := []struct {
		name    string
		results string // o = pass, x = fail
		changes string // where the state changes: the resulting state, else .
	}{
		{"flapping never flaps the table", "xoxoxoxoxo", ".........."},
		{"down after fall=3 failures", "oxxxo", "...d."},
		{"back after rise=2 successes", "xxxoxoo", "..d...u"},
		{"a success resets the failure count", "xxoxxx", ".....d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &debounce{rise: 2, fall: 3, up: true}
			for i, r := range tt.results {
				changed := d.observe(r == 'o')
				want := tt.changes[i] != '.'
				if changed != want {
					t.Fatalf("result %d (%c): changed=%v, want %v", i, r, changed, want)
				}
				if changed && d.up != (tt.changes[i] == 'u') {
					t.Fatalf("result %d: up=%v", i, d.up)
				}
			}
		})
	}
}

// A TM whose checks keep failing is checked once per interval, not more:
// counted over a window against an HTTP target that always answers 503.
func TestWatchPaced(t *testing.T) {
	var requests atomic.Int64
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(503)
	}))
	defer bad.Close()
	const interval, window = 20 * time.Millisecond, time.Second
	tm := &config.TM{Name: "tm1", Health: config.Health{Type: "http", Target: bad.URL, Interval: interval, Timeout: interval}}
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	var failed int
	watch(ctx, tm, func(name string, err error) {
		if err != nil {
			failed++
		}
	})
	n := requests.Load()
	if max := int64(window/interval) + 1; n > max {
		t.Errorf("%d checks in %v at a %v interval, want at most %d", n, window, interval, max)
	}
	if failed == 0 || int64(failed) > n {
		t.Errorf("%d failures reported for %d checks", failed, n)
	}
}
