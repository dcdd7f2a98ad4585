// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/chain/agent"
	"github.com/symdist/symdist/internal/connlimit"
	"github.com/symdist/symdist/internal/limitlog"
	"golang.org/x/sync/errgroup"
)

// metricsMaxConns bounds the connections to --metrics (scrapers).
const metricsMaxConns = 16

func newChainCmd() *cobra.Command {
	var (
		name, url, token, tableFile, metrics, logLevel string
		legs                                           []string
		queue                                          uint16
	)
	cmd := &cobra.Command{
		Use:   "chain --tm NAME --controller URL",
		Short: "Hand packets of connections this TM host does not know to the bucket's previous owner",
		Long: `chain runs beside any TM on Linux (Linux NAT with conntrack, haproxy,
nginx, a firewall) so that its connections survive planned moves: a drain,
a join, a weight change, a config apply. It follows the TM's table on the
controller's watch (--controller, --tm, --token): each table names, for the
buckets that moved within chain_window, their previous owner. A TCP packet
(or an ICMP error about one) that connection tracking finds INVALID on this
host, in a bucket this TM owns or that is moving and whose previous owner is
another TM, leaves again by the leg it came in on with that TM's MAC as
destination; the distributor delivers it there (docs/tm.md, "Chaining").

It installs one nftables rule (table symdist_chain, ip and ip6) that sends
those packets to NFQUEUE --queue with bypass, and sets
net.netfilter.nf_conntrack_tcp_loose=0. If the agent stops or dies, the
kernel lets the packets through as before: it fails open. Needs
CAP_NET_ADMIN and CAP_NET_RAW. Legs (--leg, repeatable) are the interfaces
facing the distributors; by default every interface whose MAC is this TM's
MAC on a switch of the controller's config.

--table-file reads the table (the JSON of GET /api/groups/{group}/buckets)
once instead of following a controller, for tests and static setups.
--metrics serves GET /metrics.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if name == "" {
				return errors.New("--tm: the TM's name in the controller config is required")
			}
			if (url == "") == (tableFile == "") {
				return errors.New("give --controller or --table-file (one of them)")
			}
			a := agent.New(agent.Config{TM: name, Queue: queue, Legs: legs, Log: log})
			refused := prometheus.NewCounter(prometheus.CounterOpts{
				Name: "symdist_chain_bucket_tables_refused_total",
				Help: "Bucket tables from the controller refused as over the contract (docs/tmapi.md): not applied, not acknowledged.",
			})
			if tableFile != "" {
				bt, err := adminapi.ReadTableFile(tableFile)
				if err != nil {
					return err
				}
				a.SetTable(bt)
			}
			g, ctx := errgroup.WithContext(cmd.Context())
			g.Go(func() error { return a.Run(ctx) })
			if url != "" {
				f := adminapi.Follower{Client: &adminapi.Client{URL: url, Token: token}, TM: name,
					Apply: func(ev adminapi.Event) error {
						a.SetTable(adminapi.BucketTable{Group: ev.Group, Buckets: ev.Buckets, Chains: ev.Chains, Peers: ev.Peers})
						return nil
					},
					OnError: watchErrors(log, refused.Inc, limitlog.New(time.Minute))}
				g.Go(func() error { f.Run(ctx); return nil })
			}
			if metrics != "" {
				reg := prometheus.NewRegistry()
				reg.MustRegister(a.Collectors()...)
				reg.MustRegister(refused)
				ln, err := net.Listen("tcp", metrics)
				if err != nil {
					return err
				}
				refused := prometheus.NewCounter(prometheus.CounterOpts{Name: "symdist_chain_metrics_refused_total",
					Help: "Connections to --metrics reset because it held " + fmt.Sprint(metricsMaxConns) + "."})
				reg.MustRegister(refused)
				bounded := connlimit.New(ln, connlimit.Config{Max: metricsMaxConns, Name: "chain --metrics", Log: log, Refused: refused.Inc})
				srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), MaxHeaderBytes: 16 << 10,
					ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute}
				g.Go(func() error {
					<-ctx.Done()
					sctx, cancel := context.WithTimeout(context.Background(), time.Second)
					defer cancel()
					return srv.Shutdown(sctx)
				})
				g.Go(func() error {
					if err := srv.Serve(bounded); !errors.Is(err, http.ErrServerClosed) {
						return err
					}
					return nil
				})
			}
			return g.Wait()
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "tm", "", "this TM's name in the controller config")
	f.Var(&configURLs{urls: &url}, "controllers-from", "take the controllers' URLs from a controller config's `controllers` list")
	f.Var(&urlList{urls: &url}, "controller", "the controller's admin API URL, e.g. http://10.0.9.1:9090; repeat it (or a comma list) for the controller pair")
	tokenFlag(f, &token, "")
	f.StringVar(&tableFile, "table-file", "", "read the table (JSON of GET /api/groups/{group}/buckets) from this file instead of a controller")
	f.StringArrayVar(&legs, "leg", nil, "an interface facing a distributor (repeat; default: found by this TM's MACs)")
	f.Uint16Var(&queue, "queue", agent.DefaultQueue, "the NFQUEUE number")
	f.StringVar(&metrics, "metrics", "", "serve GET /metrics on ADDRESS:PORT (empty: none)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// watchErrors is the chaining agent's Follower.OnError: a table refused
// as over the contract is counted in refused and logged once per interval
// of lim; any other failure is logged as it comes.
func watchErrors(log *slog.Logger, refused func(), lim *limitlog.Limiter) func(error) {
	return func(err error) {
		if errors.Is(err, adminapi.ErrBadTable) {
			refused()
			lim.Log(log, slog.LevelWarn, "controller", "chaining: bucket table refused", "err", err)
			return
		}
		log.Warn("chaining: bucket table watch", "err", err)
	}
}
