// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/symdist/symdist/adminapi"

	"github.com/spf13/cobra"
	"github.com/symdist/symdist/controller"
)

// reloadOnHangup applies the controller's config file again on every
// SIGHUP until ctx ends. A file that fails its checks changes nothing.
func reloadOnHangup(ctx context.Context, c *controller.Controller, log *slog.Logger) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
		}
		p, err := c.Reload()
		var rej *adminapi.RejectedError
		switch {
		case errors.As(err, &rej):
			log.Error("SIGHUP: config rejected, nothing changed", "errors", strings.Join(rej.Errors, "; "))
		case err != nil:
			log.Error("SIGHUP: reload failed", "error", err)
		default:
			var sb strings.Builder
			printPlan(&sb, p)
			log.Info("SIGHUP: config reloaded", "plan", sb.String())
		}
	}
}

func newConfigPlanCmd() *cobra.Command {
	return configSendCmd("plan FILE", "Show what a config would change on a running controller, and change nothing", false)
}

func newConfigApplyCmd() *cobra.Command {
	return configSendCmd("apply FILE", "Apply a config to running controllers (primary and backup): only the difference moves", true)
}

func configSendCmd(use, short string, apply bool) *cobra.Command {
	var urls string
	var token string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			// With the pair, one apply to the primary: the other
			// controller takes it (docs/design.md, "The controller pair").
			client := adminapi.Client{URL: urls, Token: token}
			// Find the primary first (a status follows it), so that
			// the plan has its bucket moves; a backup would apply too.
			_, _ = client.Status(cmd.Context())
			send := client.PlanConfig
			if apply {
				send = client.ApplyConfig
			}
			p, err := send(cmd.Context(), args[0], data)
			if err != nil {
				return err
			}
			printPlan(cmd.OutOrStdout(), p)
			return nil
		},
	}
	controllerFlag(cmd.Flags(), &urls, "the controllers' admin API")
	tokenFlag(cmd.Flags(), &token, "")
	return cmd
}

func percent(n, of int) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

// printPlan prints a config plan: per group the rule changes, per TM its
// buckets before and after and the share of the group's flows that move
// to and from it, and the moves by pair.
func printPlan(w io.Writer, p *adminapi.ConfigPlan) {
	for _, warning := range p.Warnings {
		fmt.Fprintln(w, "WARNING:", warning)
	}
	switch {
	case p.Applied:
		fmt.Fprintln(w, "applied:")
	default:
		fmt.Fprintln(w, "plan (nothing written):")
	}
	if p.NoTables {
		fmt.Fprintln(w, "  this controller holds no bucket table (a backup, or no switch reached): bucket moves are the primary's to plan")
	}
	for _, g := range p.Groups {
		head := fmt.Sprintf("group %s", g.Name)
		if g.Change != "" {
			head += " (" + g.Change + ")"
		}
		if !p.NoTables {
			head += fmt.Sprintf(": %d of %d buckets move (%s of its flows)", g.Moved, g.Buckets, percent(g.Moved, g.Buckets))
		}
		fmt.Fprintln(w, head)
		for _, r := range g.RulesAdded {
			fmt.Fprintln(w, "  rule added:", r)
		}
		for _, r := range g.RulesRemoved {
			fmt.Fprintln(w, "  rule removed:", r)
		}
		if g.DefaultTM != "" {
			fmt.Fprintln(w, "  default TM:", g.DefaultTM)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TM\tCHANGE\tWEIGHT\tBUCKETS\tGAINED\tLOST")
		for _, t := range g.TMs {
			change := strings.Join(t.Changes, ", ")
			if change == "" {
				change = "-"
			}
			if t.AwaitsHealth {
				change += " (gets buckets once its health check passes)"
			}
			if p.NoTables {
				fmt.Fprintf(tw, "  %s\t%s\t%d\t?\t?\t?\n", t.Name, change, t.Weight)
				continue
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d -> %d\t%d (%s)\t%d (%s)\n", t.Name, change, t.Weight, t.Before, t.After,
				t.Gained, percent(t.Gained, g.Buckets), t.Lost, percent(t.Lost, g.Buckets))
		}
		tw.Flush()
		for _, m := range g.Moves {
			fmt.Fprintf(w, "  move %s -> %s: %d buckets\n", orNone(m.From), orNone(m.To), m.Buckets)
		}
	}
	if len(p.Switches) > 0 {
		fmt.Fprintln(w, "switch ports or L2 entries change on:", strings.Join(p.Switches, ", "))
	}
	printEntries(w, p)
	if p.Saved != "" {
		fmt.Fprintln(w, "saved to", p.Saved, "(the previous file is", p.Saved+".prev)")
	}
	if p.SaveError != "" {
		fmt.Fprintln(w, "NOT saved, a restart runs the old file:", p.SaveError)
	}
	if len(p.PeersInSync) > 0 {
		fmt.Fprintln(w, "the other controller runs it too:", strings.Join(p.PeersInSync, ", "))
	}
	if len(p.PeersBehind) > 0 {
		fmt.Fprintln(w, "NOT taken yet by:", strings.Join(p.PeersBehind, ", "), "(it takes it when it next hears from this one; check `symdist status --controller` on it)")
	}
}

func orNone(tm string) string {
	if tm == "" {
		return "(none)"
	}
	return tm
}

// printEntries prints what the plan writes on each switch, table by
// table, and the first entries each table loses.
func printEntries(w io.Writer, p *adminapi.ConfigPlan) {
	if len(p.Entries) == 0 {
		fmt.Fprintln(w, "no switch entry changes")
		return
	}
	sw := ""
	for _, t := range p.Entries {
		if t.Switch != sw {
			sw = t.Switch
			fmt.Fprintf(w, "entries on switch %s:\n", sw)
		}
		fmt.Fprintf(w, "  %s: %d deleted, %d modified, %d inserted\n", t.Table, t.Deleted, t.Modified, t.Inserted)
		for _, d := range t.FirstDeleted {
			fmt.Fprintln(w, "    deletes", d)
		}
		if more := t.Deleted - len(t.FirstDeleted); more > 0 {
			fmt.Fprintf(w, "    and %d more deleted\n", more)
		}
	}
	if p.NoTables {
		fmt.Fprintln(w, "  (bucket_table not included: this controller holds no bucket table)")
	}
}
