// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/symdist/symdist/examples"
	"github.com/symdist/symdist/lab"
)

func newLabCmd() *cobra.Command {
	var sw, prefix, dir, cfgFile, attach string
	var selfPorts, test, chaining, established bool
	cmd := &cobra.Command{
		Use:   "lab [--config FILE] [--switch soft|bmv2] [--test]",
		Short: "Build a deployment (default: figure 3) in network namespaces; --test rehearses changes on it (root)",
		Long: `lab builds a deployment on this machine in network namespaces and keeps it up
until Ctrl-C. Without --config it is the patent's figure 3 (examples/figure3.yaml).

With --config FILE it is the deployment FILE describes: each switch a
distributor (the software switch, or bmv2 with --switch bmv2), each TM a
namespace running symdist tm with a leg on each switch port the config gives
it, a client namespace on the first switch's first edge port and a server
namespace on the second switch's (or a single switch's second edge port).
The controller runs on a copy of FILE with the lab's switch addresses, admin
API and health-check targets (written to --dir). docs/operations.md,
"Rehearse a change", gives the addresses the lab adds where FILE is silent.

--test runs the end-to-end scenario instead of waiting (on figure 3 when
--config is not given): requests through every VIP, a TM killed, the TM
joining again, a weight change, a drain and an undrain, with new connections
opened through each change. It prints one line per step and exits non-zero
when a step failed.

--attach FILE (mininet/run.py --config) takes the hosts and switches from a
topology Mininet built: the lab adds the addresses, the management network,
the server, the controller and the TMs, then runs the same scenario.`,
		Args: cobra.NoArgs,
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
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			if cfgFile == "" && !test {
				fmt.Fprintln(errOut, "building the lab ...")
				l, err := lab.Up(lab.Options{Prefix: prefix, Binary: self, Switch: sw, SelfPorts: selfPorts, Chain: chaining, Dir: dir, Log: log})
				if err != nil {
					return err
				}
				defer l.Down()
				fmt.Fprint(out, l.Guide())
				<-cmd.Context().Done()
				fmt.Fprintln(errOut, "taking the lab down")
				return nil
			}
			if cfgFile == "" {
				cfgFile = filepath.Join(dir, "figure3.yaml")
				if err := os.WriteFile(cfgFile, examples.Figure3, 0o644); err != nil {
					return err
				}
			}
			if !selfPorts {
				return errors.New("--self-ports=false is for the figure-3 lab without --config or --test")
			}
			opts := lab.RehearseOptions{Config: cfgFile, Prefix: prefix, Binary: self, Switch: sw, Dir: dir, Log: log, NoChain: !chaining, NoEstablished: !established}
			if attach != "" {
				data, err := os.ReadFile(attach)
				if err != nil {
					return err
				}
				opts.Attach = &lab.Attachment{}
				if err := json.Unmarshal(data, opts.Attach); err != nil {
					return fmt.Errorf("--attach %s: %w", attach, err)
				}
			}
			fmt.Fprintf(errOut, "building %s in the lab ...\n", cfgFile)
			r, err := lab.Rehearse(opts)
			if err != nil {
				return err
			}
			defer r.Down()
			if !test {
				fmt.Fprint(out, r.Guide())
				<-cmd.Context().Done()
				fmt.Fprintln(errOut, "taking the lab down")
				return nil
			}
			sc := r.RunScenario(func(s lab.Step) { fmt.Fprintln(out, s) })
			if !sc.Passed() {
				return fmt.Errorf("rehearsal of %s on the %s switch FAILED (logs in %s)", cfgFile, sw, dir)
			}
			fmt.Fprintf(out, "rehearsal of %s on the %s switch passed\n", cfgFile, sw)
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgFile, "config", "", "build the deployment this controller config describes (default: figure 3)")
	cmd.Flags().BoolVar(&test, "test", false, "run the end-to-end scenario and exit: 0 when it passed")
	cmd.Flags().StringVar(&sw, "switch", "soft", "distributors: soft (the software switch) or bmv2")
	cmd.Flags().StringVar(&prefix, "prefix", "sd", "prefix of namespace and interface names")
	cmd.Flags().StringVar(&dir, "dir", "", "where logs (and the rewritten config) go (default a new temporary directory)")
	cmd.Flags().StringVar(&attach, "attach", "", "use the hosts and switches another tool built (JSON, as mininet/run.py writes it; lab.Attachment) instead of building them")
	cmd.Flags().BoolVar(&established, "established", true, "with --test: keep 100 long-lived connections open through every planned change; every one must survive (false: leave the step out)")
	cmd.Flags().BoolVar(&chaining, "chain", true, "TMs chain packets of connections they do not know to the bucket's previous owner (false: the control run; the established step fails)")
	cmd.Flags().BoolVar(&selfPorts, "self-ports", true, "TMs use self-source ports (false: the control run, most connections fail)")
	return cmd
}
