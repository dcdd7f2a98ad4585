// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"text/tabwriter"
	"time"

	"github.com/symdist/symdist/adminapi"

	"github.com/spf13/cobra"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/controller"
	"github.com/symdist/symdist/verify"
	"golang.org/x/sync/errgroup"
)

func newControllerCmd() *cobra.Command {
	var path string
	var auditEvery time.Duration
	cmd := &cobra.Command{
		Use:   "controller --config FILE",
		Short: "Program the distributors of a config over P4Runtime and keep them right",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return fmt.Errorf("controller needs --config")
			}
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			c, err := controller.New(cfg, log)
			if err != nil {
				return err
			}
			c.SetConfigFile(path) // SIGHUP and `config apply` (reload.go)
			ln, err := net.Listen("tcp", cfg.Admin.Listen)
			if err != nil {
				return fmt.Errorf("admin API: %w", err)
			}
			log.Info("admin API listening", "address", ln.Addr().String())
			g, ctx := errgroup.WithContext(cmd.Context())
			g.Go(func() error { return c.Run(ctx) })
			g.Go(func() error { return c.ServeAdmin(ctx, ln) })
			g.Go(func() error { return reloadOnHangup(ctx, c, log) })
			if auditEvery > 0 {
				g.Go(func() error { c.RunAudit(ctx, auditEvery, verify.Auditor(c, 30*time.Second)); return nil })
			}
			return g.Wait()
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "controller config (YAML)")
	cmd.Flags().DurationVar(&auditEvery, "audit-interval", controller.DefaultAuditInterval, "how often to run verify state's checks and export the result on /metrics (0: never)")
	return cmd
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with controller configs"}
	cmd.AddCommand(newConfigPlanCmd(), newConfigApplyCmd())
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Check a config; errors name the file, line, field and problem",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok: %d switches, %d groups, %d TMs, %d buckets per group\n",
				args[0], len(cfg.Switches), len(cfg.Groups), len(cfg.TMs), cfg.Buckets)
			return nil
		},
	})
	return cmd
}

func newStatusCmd() *cobra.Command {
	var url, token string
	var asJSON, watch bool
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the controller's view of switches, groups and TMs",
		Long: `Show the controller's view of switches, groups and TMs.

--watch asks again every --interval until Ctrl-C: on a terminal (a
switch's console) the tables are redrawn in place; into a pipe or a file
each change is printed once, after a line with its time (with --json: one
JSON line per change). A controller that does not answer is shown as such
and asked again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client := adminapi.Client{URL: url, Token: token}
			if watch {
				if every <= 0 {
					return fmt.Errorf("--interval must be positive")
				}
				w := cmd.OutOrStdout()
				return statusWatch{fetch: client.Status, url: url, every: every, inPlace: isTerminal(w), asJSON: asJSON}.run(cmd.Context(), w)
			}
			st, err := client.Status(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			printStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	controllerFlag(cmd.Flags(), &url, "the controller's admin API")
	tokenFlag(cmd.Flags(), &token, "")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "refresh until Ctrl-C (in place on a terminal)")
	cmd.Flags().DurationVar(&every, "interval", time.Second, "how often --watch asks")
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printStatus(w interface{ Write([]byte) (int, error) }, st adminapi.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SWITCH\tADDRESS\tCONNECTED\tPRIMARY\tIN SYNC\tLAST ERROR")
	for _, s := range st.Switches {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Address, yesNo(s.Connected), yesNo(s.Primary), yesNo(s.InSync), s.LastError)
	}
	tw.Flush()
	for _, g := range st.Groups {
		fmt.Fprintf(w, "\ngroup %s (id %d), default TM %s\n", g.Name, g.ID, g.DefaultTM)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TM\tID\tWEIGHT\tHEALTHY\tDRAINED\tBUCKETS\tCONNECTIONS")
		for _, t := range g.TMs {
			conns := "-" // the TM reports none
			if t.Connections != nil {
				conns = fmt.Sprint(*t.Connections)
			}
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\t%d\t%s\n", t.Name, t.ID, t.Weight, yesNo(t.Healthy), yesNo(t.Drained), t.Buckets, conns)
		}
		tw.Flush()
	}
}
