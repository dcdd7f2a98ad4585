// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"

	"github.com/symdist/symdist/adminapi"

	"github.com/spf13/cobra"
)

// newDrainCmd is `symdist drain TM` (or `undrain`): the TM's buckets go
// to the other TMs of its group (or come back). The drain is kept in the
// switches, so it lasts across controller restarts and failovers until
// undrained.
func newDrainCmd(drain bool) *cobra.Command {
	var url, token string
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
			return nil
		},
	}
	controllerFlag(cmd.Flags(), &url, "the primary controller's admin API")
	tokenFlag(cmd.Flags(), &token, "")
	return cmd
}
