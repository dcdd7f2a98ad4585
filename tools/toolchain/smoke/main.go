// SPDX-License-Identifier: Apache-2.0

// Command smoke is make toolchain's last check of bmv2: it starts the given
// simple_switch_grpc on loopback with no ports, becomes primary, pushes
// symdist's P4Info and bmv2 JSON and reads the pipeline back. It exits 0
// and prints one line when bmv2 answered P4Runtime with the same P4Info.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/p4info"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

func main() {
	bin := flag.String("bmv2", "/opt/p4/bin/simple_switch_grpc", "the simple_switch_grpc to check")
	flag.Parse()
	if err := smoke(*bin); err != nil {
		fmt.Fprintln(os.Stderr, "smoke:", err)
		os.Exit(1)
	}
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func smoke(bin string) error {
	addr, err := freePort()
	if err != nil {
		return err
	}
	args := []string{"--device-id", "1", "--no-p4", "--log-level", "error"}
	// The debug build serves Thrift (default port 9090, the controller's
	// admin port): move it; the speed build has no Thrift and no such flag.
	if help, _ := exec.Command(bin, "--help").CombinedOutput(); strings.Contains(string(help), "thrift-port") {
		thrift, err := freePort()
		if err != nil {
			return err
		}
		_, port, _ := net.SplitHostPort(thrift)
		args = append(args, "--thrift-port", port)
	}
	args = append(args, "--", "--grpc-server-addr", addr, "--cpu-port", "255")
	cmd := exec.Command(bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := p4v1.NewP4RuntimeClient(conn)
	election := &p4v1.Uint128{Low: 1}
	var stream p4v1.P4Runtime_StreamChannelClient
	for {
		// bmv2 takes a moment to listen: retry until the deadline.
		stream, err = client.StreamChannel(ctx, grpc.WaitForReady(true))
		if err == nil {
			err = stream.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{
				Arbitration: &p4v1.MasterArbitrationUpdate{DeviceId: 1, ElectionId: election}}})
		}
		if err == nil {
			var resp *p4v1.StreamMessageResponse
			resp, err = stream.Recv()
			if err == nil && resp.GetArbitration().GetStatus().GetCode() != 0 {
				err = fmt.Errorf("not primary: %v", resp.GetArbitration().GetStatus())
			}
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s did not answer P4Runtime on %s: %v\n%s", bin, addr, err, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	schema, err := p4info.Load()
	if err != nil {
		return err
	}
	_, err = client.SetForwardingPipelineConfig(ctx, &p4v1.SetForwardingPipelineConfigRequest{
		DeviceId: 1, ElectionId: election, Action: p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT,
		Config: &p4v1.ForwardingPipelineConfig{P4Info: schema.Info, P4DeviceConfig: p4info.BMv2JSON(),
			Cookie: &p4v1.ForwardingPipelineConfig_Cookie{Cookie: p4info.Cookie()}},
	})
	if err != nil {
		return fmt.Errorf("SetForwardingPipelineConfig: %v", err)
	}
	got, err := client.GetForwardingPipelineConfig(ctx, &p4v1.GetForwardingPipelineConfigRequest{
		DeviceId: 1, ResponseType: p4v1.GetForwardingPipelineConfigRequest_ALL})
	if err != nil {
		return fmt.Errorf("GetForwardingPipelineConfig: %v", err)
	}
	if !proto.Equal(got.GetConfig().GetP4Info(), schema.Info) {
		return fmt.Errorf("bmv2 read back another P4Info: %v", p4info.Diff(schema.Info, got.GetConfig().GetP4Info()))
	}
	fmt.Printf("%s answered P4Runtime on %s: pipeline pushed, P4Info read back identical (%d tables)\n",
		bin, addr, len(schema.Info.GetTables()))
	return nil
}
