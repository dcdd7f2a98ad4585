// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/spf13/cobra"
	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/ports"
)

func newPortsCmd() *cobra.Command {
	var url, token, tm, snat, format, path string
	var minPort, rangeLo, rangeHi uint16
	var watch bool
	cmd := &cobra.Command{
		Use:   "ports --controller URL --tm NAME --snat ADDR",
		Short: "Print a TM's self-source ports for a SNAT address",
		Long: `ports fetches the TM's group bucket table from the controller and prints the
source ports of the SNAT address whose replies hash back to this TM
(docs/contract.md section 5):

  --format list     one port per line
  --format ranges   a-b,c,d-e
  --format sysctl   a value for net.ipv4.ip_local_reserved_ports that reserves
                    every port of --range that is NOT the TM's, so a proxy
                    that lets the kernel pick its source ports gets only self
                    ports (docs/tm.md)

--watch --format sysctl follows the controller's bucket-table watch and
rewrites --path (net.ipv4.ip_local_reserved_ports) on every change before
acknowledging it, so the controller moves buckets away from this TM only
once the kernel no longer picks their ports (docs/tmapi.md). It runs until
interrupted. Give --range-lo/--range-hi of net.ipv4.ip_local_port_range.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addr, err := netip.ParseAddr(snat)
			if err != nil {
				return fmt.Errorf("--snat %q: %w", snat, err)
			}
			if tm == "" {
				return fmt.Errorf("ports needs --tm")
			}
			if format != "list" && format != "ranges" && format != "sysctl" {
				return fmt.Errorf("--format %q: want list, ranges or sysctl", format)
			}
			if rangeLo > rangeHi || rangeLo == 0 {
				return fmt.Errorf("--range-lo/--range-hi: %d-%d is not a port range", rangeLo, rangeHi)
			}
			client := adminapi.Client{URL: url, Token: token}
			if watch {
				if format != "sysctl" {
					return fmt.Errorf("--watch writes --format sysctl only (got --format %s)", format)
				}
				w := &reservedWatch{client: &client, tm: tm, snat: addr, minPort: minPort, lo: rangeLo, hi: rangeHi, path: path,
					log: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))}
				w.run(cmd.Context())
				return nil
			}
			bt, err := client.BucketsOf(cmd.Context(), tm)
			if err != nil {
				return err
			}
			tab, err := ports.Compute(bt.Buckets, tm, addr, minPort)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch format {
			case "list":
				for _, p := range tab.Ports() {
					fmt.Fprintln(out, p)
				}
			case "ranges":
				fmt.Fprintln(out, ports.Ranges(tab.Ports()))
			case "sysctl":
				fmt.Fprintln(out, ports.Ranges(tab.ReservedPorts(rangeLo, rangeHi)))
			}
			return nil
		},
	}
	controllerFlag(cmd.Flags(), &url, "the controller's admin API")
	tokenFlag(cmd.Flags(), &token, "")
	cmd.Flags().StringVar(&tm, "tm", "", "TM name")
	cmd.Flags().StringVar(&snat, "snat", "", "SNAT address")
	cmd.Flags().StringVar(&format, "format", "ranges", "list, ranges or sysctl")
	cmd.Flags().Uint16Var(&minPort, "min-port", 1024, "lowest port to use")
	cmd.Flags().Uint16Var(&rangeLo, "range-lo", 32768, "sysctl: low end of net.ipv4.ip_local_port_range")
	cmd.Flags().Uint16Var(&rangeHi, "range-hi", 60999, "sysctl: high end of net.ipv4.ip_local_port_range")
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the controller and rewrite --path on every change (with --format sysctl)")
	cmd.Flags().StringVar(&path, "path", reservedPortsPath, "--watch: the file to rewrite")
	return cmd
}
