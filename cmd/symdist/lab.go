package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/symdist/symdist/lab"
)

func newLabCmd() *cobra.Command {
	var sw, prefix, dir string
	var selfPorts bool
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Build the figure-3 lab in network namespaces and keep it up until Ctrl-C (root)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sw != "soft" && sw != "bmv2" {
				return fmt.Errorf("--switch %q: want soft or bmv2", sw)
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			if dir == "" {
				if dir, err = os.MkdirTemp("", "symdist-lab-"); err != nil {
					return err
				}
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			fmt.Fprintln(cmd.ErrOrStderr(), "building the lab ...")
			l, err := lab.Up(lab.Options{Prefix: prefix, Binary: self, Switch: sw, SelfPorts: selfPorts, Dir: dir, Log: log})
			if err != nil {
				return err
			}
			defer l.Down()
			fmt.Fprint(cmd.OutOrStdout(), l.Guide())
			<-cmd.Context().Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "taking the lab down")
			return nil
		},
	}
	cmd.Flags().StringVar(&sw, "switch", "soft", "distributors: soft (the software switch) or bmv2")
	cmd.Flags().StringVar(&prefix, "prefix", "sd", "prefix of namespace and interface names")
	cmd.Flags().StringVar(&dir, "dir", "", "where logs go (default a new temporary directory)")
	cmd.Flags().BoolVar(&selfPorts, "self-ports", true, "TMs use self-source ports (false: the control run, most connections fail)")
	return cmd
}
