// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

// symdist switch --metrics serves the P4Runtime server's refusal counter;
// an address it cannot listen on stops it with an error naming the flag.
func TestSwitchMetrics(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	startSwitch(t, switchOptions{metrics: addr})
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`symdist_p4runtime_server_refused_total{reason="unarbitrated_streams"} 0`,
		`symdist_p4runtime_server_refused_total{reason="writes_not_primary"} 0`,
		`symdist_p4runtime_server_refused_total{reason="reads_per_peer"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("GET /metrics has no %q:\n%s", want, body)
		}
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	o := switchOptions{grpcAddr: "127.0.0.1:0", metrics: busy.Addr().String()}
	err = runSwitch(context.Background(), o, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "--metrics") {
		t.Errorf("--metrics on an address in use: %v, want an error naming --metrics", err)
	}
}
