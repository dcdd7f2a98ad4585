// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"context"
	"time"

	"github.com/symdist/symdist/adminapi"
)

// reportLoop tells the controller the TM's open connections every
// adminapi.ReportInterval until ctx ends: `symdist status` shows them and
// `symdist drain --wait` waits for them. A failed report is tried again
// at the next interval (the watch's errors already say when the
// controller is unreachable).
func (s *Server) reportLoop(ctx context.Context, src *ControllerSource) {
	defer s.bg.Done()
	c := &adminapi.Client{URL: src.URL, Token: src.Token, HTTP: src.Client}
	t := time.NewTicker(adminapi.ReportInterval)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, adminapi.ReportInterval)
		_ = c.Report(rctx, src.TM, adminapi.Report{Connections: s.Stats().Connections.Active, InUse: s.inUse()})
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
