// SPDX-License-Identifier: Apache-2.0

package swswitch_test

import (
	"context"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/swswitch"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Stop is the shutdown `symdist switch` does on SIGTERM: a controller's
// open stream ends with UNAVAILABLE at once (not when the grace runs out),
// the ports close, and the address stops answering.
func TestServedStop(t *testing.T) {
	pipe := swswitch.NewPipePort(nil)
	sw, err := swswitch.Listen(swswitch.Config{DeviceID: 1, Ports: map[uint16]swswitch.Port{1: pipe}, StopGrace: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(sw.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := p4v1.NewP4RuntimeClient(conn).StreamChannel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{
		Arbitration: &p4v1.MasterArbitrationUpdate{DeviceId: 1, ElectionId: &p4v1.Uint128{Low: 1}}}}); err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || resp.GetArbitration().GetStatus().GetCode() != int32(codes.OK) {
		t.Fatalf("arbitration: %v %v, want primary", resp, err)
	}

	start := time.Now()
	sw.Stop()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Stop took %v with one open stream: it waited for the grace period", took)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("the open stream ended with %v, want UNAVAILABLE", err)
	}
	if err := pipe.Inject([]byte{1}); err != swswitch.ErrClosed {
		t.Errorf("a port after Stop: %v, want ErrClosed", err)
	}
	sw.Stop() // a second Stop does nothing
}
