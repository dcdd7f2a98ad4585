// SPDX-License-Identifier: Apache-2.0

package health

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/symdist/symdist/config"
)

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
			if err := Probe(context.Background(), tt.h); (err == nil) != tt.pass {
				t.Errorf("Probe = %v, want pass=%v", err, tt.pass)
			}
		})
	}
}
