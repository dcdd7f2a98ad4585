// SPDX-License-Identifier: Apache-2.0

package adminapi

import (
	"context"
	"time"
)

// ReportEvery tells the controller what TM tm says of itself, get's
// report, every ReportInterval until ctx ends (symdist tm, symdist chain):
// `symdist status` shows its connections, `symdist drain --wait` waits for
// them and the in_use ports are held (Report). get's ok false skips that
// interval (the TM does not know). A failed report is tried again at the
// next interval (the watch's errors already say when the controller is
// unreachable).
func (c *Client) ReportEvery(ctx context.Context, tm string, get func() (r Report, ok bool)) {
	t := time.NewTicker(ReportInterval)
	defer t.Stop()
	for {
		if r, ok := get(); ok && ctx.Err() == nil {
			rctx, cancel := context.WithTimeout(ctx, ReportInterval)
			_ = c.Report(rctx, tm, r)
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
