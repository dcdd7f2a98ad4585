// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/symdist/symdist/internal/ifswitch"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/p4rt"
	"github.com/symdist/symdist/vectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Program pushes the pipeline to s and writes the fixture state
// (vectors.State), as the controller would.
func Program(ctx context.Context, s *ifswitch.Switch) error {
	conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return err
	}
	defer conn.Close()
	sess, err := p4rt.Open(ctx, conn, s.DeviceID, 1, slog.New(slog.DiscardHandler))
	if err != nil {
		return fmt.Errorf("%s: arbitration: %w", s.Name, err)
	}
	defer sess.Close()
	schema, err := p4info.Load()
	if err != nil {
		return err
	}
	ids, err := schema.Resolve()
	if err != nil {
		return err
	}
	devConfig := s.DeviceConfig
	if devConfig == nil {
		devConfig = p4info.BMv2JSON()
	}
	if err := sess.SetPipeline(ctx, schema.Info, devConfig, p4info.Cookie()); err != nil {
		return fmt.Errorf("%s: pipeline: %w", s.Name, err)
	}
	// Members first (the entries point at them), as the fixture orders them.
	if err := sess.Write(ctx, vectors.State(ids)); err != nil {
		return fmt.Errorf("%s: state: %w", s.Name, err)
	}
	return nil
}
