package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/symdist/symdist/controller"
)

// newDrainCmds returns `symdist drain TM` and `symdist undrain TM`.
func newDrainCmds() []*cobra.Command {
	mk := func(use, short string, drain bool) *cobra.Command {
		var url, token string
		cmd := &cobra.Command{
			Use:   use + " TM",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				client := controller.Client{URL: url, Token: token}
				if err := client.Drain(cmd.Context(), args[0], drain); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: drained=%v\n", args[0], drain)
				return nil
			},
		}
		cmd.Flags().StringVar(&url, "controller", "http://127.0.0.1:9090", "the controller's admin API")
		cmd.Flags().StringVar(&token, "token", os.Getenv("SYMDIST_TOKEN"), "bearer token (default $SYMDIST_TOKEN)")
		return cmd
	}
	return []*cobra.Command{
		mk("drain", "Take a TM out of service: its buckets go to the other TMs of its group", true),
		mk("undrain", "Put a drained TM back in service", false),
	}
}
