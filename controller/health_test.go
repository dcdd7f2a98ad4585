package controller

import (
	"context"
	"net"
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

func TestProbe(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer bad.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(300 * time.Millisecond) }))
	defer slow.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name string
		h    config.Health
		pass bool
	}{
		{"http 200", config.Health{Type: "http", Target: ok.URL, Timeout: time.Second}, true},
		{"http 503", config.Health{Type: "http", Target: bad.URL, Timeout: time.Second}, false},
		{"http too slow", config.Health{Type: "http", Target: slow.URL, Timeout: 50 * time.Millisecond}, false},
		{"tcp open", config.Health{Type: "tcp", Target: ok.Listener.Addr().String(), Timeout: time.Second}, true},
		{"tcp closed", config.Health{Type: "tcp", Target: closed, Timeout: time.Second}, false},
		{"none", config.Health{Type: "none"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := probe(context.Background(), tt.h); (err == nil) != tt.pass {
				t.Errorf("probe = %v, want pass=%v", err, tt.pass)
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
