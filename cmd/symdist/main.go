// SPDX-License-Identifier: Apache-2.0

// Command symdist is the symmetric flow distributor's one binary: the
// controller, the software switch, the demo and the tools around them.
// `symdist --help` lists the subcommands; the top-level README.md says
// what each does.
//
// main calls run and is the only place that exits. Each subcommand is
// built in the file of its name (config check and status in controller.go,
// config plan and apply in reload.go); --controller and --token are
// defined once, in adminflags.go. Every subcommand checks its flags with
// an error that names the flag. verify exits 1 when it found differences
// and 2 when it could not check (exitError).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "symdist:", err)
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		os.Exit(code)
	}
}

func run(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "symdist",
		Short:         "Symmetric flow distributor: both directions of every flow to the same traffic manager",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newDecideCmd(), newControllerCmd(), newConfigCmd(), newStatusCmd(), newSwitchCmd(), newDemoCmd(), newPortsCmd(), newTMCmd(), newChainCmd(), newSimCmd(), newLabCmd(),
		newDrainCmd(true), newDrainCmd(false), newVerifyCmd())
	return root
}
