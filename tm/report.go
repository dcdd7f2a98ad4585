// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"context"

	"github.com/symdist/symdist/adminapi"
)

// reportLoop tells the controller the TM's open connections and in_use
// ports every adminapi.ReportInterval until ctx ends
// (adminapi.Client.ReportEvery).
func (s *Server) reportLoop(ctx context.Context, src *ControllerSource) {
	defer s.bg.Done()
	c := &adminapi.Client{URL: src.URL, Token: src.Token, HTTP: src.Client}
	c.ReportEvery(ctx, src.TM, func() (adminapi.Report, bool) {
		return adminapi.Report{Connections: s.Stats().Connections.Active, InUse: s.inUse()}, true
	})
}
