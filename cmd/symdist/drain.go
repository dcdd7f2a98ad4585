// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/symdist/symdist/adminapi"

	"github.com/spf13/cobra"
)

// newDrainCmd is `symdist drain TM` (or `undrain`): the TM's buckets go
// to the other TMs of its group (or come back). The drain is kept in the
// switches, so it lasts across controller restarts and failovers until
// undrained.
func newDrainCmd(drain bool) *cobra.Command {
	var url, token string
	var wait bool
	var timeout time.Duration
	use, short := "undrain TM", "Put a drained TM back in service: buckets move only to it"
	if drain {
		use, short = "drain TM", "Take a TM out of service for maintenance: only its buckets move; lasts until undrain"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client := adminapi.Client{URL: url, Token: token}
			if err := client.Drain(cmd.Context(), args[0], drain); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: drained=%v (watch `symdist status` for its buckets)\n", args[0], drain)
			if drain && wait {
				return waitDrained(cmd.Context(), cmd.OutOrStdout(), &client, args[0], timeout, time.Second)
			}
			return nil
		},
	}
	controllerFlag(cmd.Flags(), &url, "the primary controller's admin API")
	tokenFlag(cmd.Flags(), &token, "")
	if drain {
		cmd.Flags().BoolVar(&wait, "wait", false, "return when the TM reports no open connection (symdist tm reports; its chained connections finish on it)")
		cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "with --wait: give up after this long, saying how many connections remain")
	}
	return cmd
}

// errDrainTimeout is a drain --wait whose TM still had connections.
var errDrainTimeout = errors.New("connections still open")

// waitDrained polls the controller's status every poll until TM tm
// reports no open connection, printing the count as it falls; at timeout
// it fails saying how many remain. A TM that reports nothing for
// adminapi.ReportStale cannot be waited for.
func waitDrained(ctx context.Context, out io.Writer, c *adminapi.Client, tm string, timeout, poll time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last *int64
	unreported := time.Now()
	for {
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		var n *int64
		found := false
		for _, g := range st.Groups {
			for _, t := range g.TMs {
				if t.Name == tm {
					n, found = t.Connections, true
				}
			}
		}
		switch {
		case !found:
			return fmt.Errorf("the controller has no TM %q", tm)
		case n == nil && time.Since(unreported) > adminapi.ReportStale:
			return fmt.Errorf("%s reports no connection count (symdist tm does, with --controller): cannot wait for its connections", tm)
		case n != nil:
			unreported = time.Now()
			if last == nil || *last != *n {
				fmt.Fprintf(out, "%s: %d connections open\n", tm, *n)
			}
			last = n
			if *n == 0 {
				fmt.Fprintf(out, "%s: drained, no connection left\n", tm)
				return nil
			}
		}
		if time.Now().After(deadline) {
			left := "an unknown number of"
			if last != nil {
				left = fmt.Sprint(*last)
			}
			return fmt.Errorf("%s: %s %w after %v", tm, left, errDrainTimeout, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}
