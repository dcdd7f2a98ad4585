// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// startSwitch runs symdist switch (no ports) until the returned cancel,
// and returns its P4Runtime address and the channel its result comes on.
func startSwitch(t *testing.T, o switchOptions) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	o.grpcAddr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- runSwitch(ctx, o, slog.New(slog.DiscardHandler), func(a string) { addr <- a }) }()
	select {
	case a := <-addr:
		return a, cancel, done
	case err := <-done:
		t.Fatalf("symdist switch: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("symdist switch did not start serving")
	}
	return "", nil, nil
}

// openStream opens a StreamChannel to device and becomes primary.
func openStream(t *testing.T, conn *grpc.ClientConn, device uint64) p4v1.P4Runtime_StreamChannelClient {
	t.Helper()
	st, err := p4v1.NewP4RuntimeClient(conn).StreamChannel(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{
		Arbitration: &p4v1.MasterArbitrationUpdate{DeviceId: device, ElectionId: &p4v1.Uint128{Low: 1}}}}); err != nil {
		t.Fatal(err)
	}
	m, err := st.Recv()
	if err != nil {
		t.Fatalf("arbitration: %v", err)
	}
	if a := m.GetArbitration(); codes.Code(a.GetStatus().GetCode()) != codes.OK || a.GetDeviceId() != device {
		t.Fatalf("arbitration answer %v, want primary of device %d", m, device)
	}
	return st
}

// SIGTERM (the command's context ending) stops symdist switch while a
// controller holds a StreamChannel open: the stream ends with UNAVAILABLE
// and the command returns (before issue 11's fix, GracefulStop waited for
// the stream forever). Device 0 is served as asked.
func TestSwitchStopsWithAnOpenStream(t *testing.T) {
	addr, stop, done := startSwitch(t, switchOptions{deviceID: 0})
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	st := openStream(t, conn, 0)
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("symdist switch ended with %v, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("symdist switch still running 20 s after SIGTERM, with a stream open")
	}
	if _, err := st.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("the controller's stream ended with %v, want UNAVAILABLE", err)
	}
}
