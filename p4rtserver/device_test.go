// SPDX-License-Identifier: Apache-2.0

package p4rtserver_test

import (
	"log/slog"
	"net"
	"testing"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/p4rtserver"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Device 0 is bmv2's default device_id: a server configured for it serves
// device 0, not 1 (issue 11, item 11).
func TestServesDeviceZero(t *testing.T) {
	srv := p4rtserver.New(p4rtserver.Config{DeviceID: 0, Logger: slog.New(slog.DiscardHandler)})
	if got := srv.DeviceID(); got != 0 {
		t.Fatalf("DeviceID() = %d, want 0", got)
	}
	g := grpc.NewServer(srv.ServerOptions()...)
	srv.Register(g)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cli := p4v1.NewP4RuntimeClient(conn)

	st, err := cli.StreamChannel(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{
		Arbitration: &p4v1.MasterArbitrationUpdate{DeviceId: 0, ElectionId: eid(1)}}}); err != nil {
		t.Fatal(err)
	}
	m, err := st.Recv()
	if err != nil {
		t.Fatalf("arbitration for device 0: %v", err)
	}
	if a := m.GetArbitration(); codes.Code(a.GetStatus().GetCode()) != codes.OK || a.GetDeviceId() != 0 {
		t.Fatalf("arbitration answer %v, want primary of device 0", m)
	}
	for _, tc := range []struct {
		name   string
		device uint64
		want   codes.Code
	}{
		{"device 0", 0, codes.OK},
		{"device 1", 1, codes.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cli.SetForwardingPipelineConfig(ctx(t), &p4v1.SetForwardingPipelineConfigRequest{
				DeviceId: tc.device, ElectionId: eid(1), Action: p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT,
				Config: pipelineConfig()})
			if got := status.Code(err); got != tc.want {
				t.Errorf("SetForwardingPipelineConfig(device_id %d) = %v, want %v", tc.device, err, tc.want)
			}
		})
	}
}
