// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/symdist/symdist/demo"
	"golang.org/x/term"
)

func newDemoCmd() *cobra.Command {
	var asJSON bool
	var flows int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run symdist end to end on built-in software switches (no root, no bmv2)",
		Long: `demo starts two software switches in this process (client side and server
side), the controller with a built-in config of 3 groups of TMs, sends
synthetic flows both ways and shows the load per TM, that every reply
reached its request's TM, a TM failure and how many flows moved, and the
TM's return.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if flows < 1 || flows > 60000 {
				return fmt.Errorf("--flows %d: want 1-60000", flows)
			}
			var progress *os.File
			if f, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) && !asJSON {
				progress = f
			}
			var pw interface{ Write([]byte) (int, error) }
			if progress != nil {
				pw = progress
			}
			rep, err := demo.Run(cmd.OutOrStdout(), pw, flows, asJSON)
			if err != nil {
				return err
			}
			if !rep.OK {
				return fmt.Errorf("the demo's checks failed")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().IntVar(&flows, "flows", 4000, "flows per group")
	return cmd
}
