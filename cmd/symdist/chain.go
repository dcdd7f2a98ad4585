// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/chain/agent"
	"github.com/symdist/symdist/chain/conns"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/internal/connlimit"
	"github.com/symdist/symdist/internal/limitlog"
	"golang.org/x/sync/errgroup"
)

// metricsMaxConns bounds the connections to --metrics (scrapers).
const metricsMaxConns = 16

func newChainCmd() *cobra.Command {
	var (
		name, url, token, tableFile, metrics, logLevel string
		legs, snats, vips                              []string
		queue                                          uint16
		ctMax                                          int
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

With a controller, it reports the TM's connections as symdist tm does
(POST /api/tms/{tm}/report every 2 s: symdist status shows them, drain
--wait waits for them) and sends with every report and ack the self ports
the TM still uses in buckets it lost (in_use: a TM that gains them and
shares the SNAT address does not hand them out). It reads them from the
host's conntrack table, once per report and once per ack, at most
--conntrack-max entries a dump: the TM's connections are the open TCP
entries (SYN_SENT to LAST_ACK, not TIME_WAIT or CLOSE) to a --vip prefix
or source-NATed by this host to a --snat address; the ports in use are
those of open entries from a --snat address (their reply goes to it).
--snat must name the TM's snat addresses of the controller config. Without
--vip and --snat, or without conntrack (CAP_NET_ADMIN,
nf_conntrack_netlink), it reports nothing.

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
			cfg, err := connsConfig(snats, vips)
			if err != nil {
				return err
			}
			a := agent.New(agent.Config{TM: name, Queue: queue, Legs: legs, Log: log})
			rep := &conns.Reporter{TM: name, Config: cfg, Max: ctMax, Log: log}
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
				c := &adminapi.Client{URL: url, Token: token}
				f := adminapi.Follower{Client: c, TM: name,
					Apply: func(ev adminapi.Event) error {
						a.SetTable(adminapi.BucketTable{Group: ev.Group, Buckets: ev.Buckets, Chains: ev.Chains, Peers: ev.Peers})
						return nil
					},
					OnError: watchErrors(log, refused.Inc, limitlog.New(time.Minute))}
				rep.Attach(&f)
				g.Go(func() error { f.Run(ctx); return nil })
				if len(cfg.SNAT)+len(cfg.VIPs) > 0 {
					g.Go(func() error { rep.Run(ctx, c); return nil })
				} else {
					log.Info("no --vip or --snat: not reporting the TM's connections or in_use ports")
				}
			}
			if metrics != "" {
				reg := prometheus.NewRegistry()
				reg.MustRegister(a.Collectors()...)
				reg.MustRegister(rep.Collectors()...)
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
	f.StringArrayVar(&snats, "snat", nil, "an SNAT address of this TM (repeat): report the self ports its conntrack entries still use in lost buckets")
	f.StringArrayVar(&vips, "vip", nil, "a prefix or address clients connect to (repeat): conntrack entries to it are the TM's connections")
	f.IntVar(&ctMax, "conntrack-max", conns.DefaultMax, "read at most this many conntrack entries a dump (past it, connections and in_use are a lower bound)")
	f.StringVar(&metrics, "metrics", "", "serve GET /metrics on ADDRESS:PORT (empty: none)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// connsConfig parses --snat and --vip.
func connsConfig(snats, vips []string) (conns.Config, error) {
	var cfg conns.Config
	for _, s := range snats {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return cfg, fmt.Errorf("--snat %q: not an address (without a zone)", s)
		}
		if slices.Contains(cfg.SNAT, a.Unmap()) {
			return cfg, fmt.Errorf("--snat %s twice", a)
		}
		cfg.SNAT = append(cfg.SNAT, a.Unmap())
	}
	for _, s := range vips {
		p, err := config.Prefix(s)
		if err != nil || s == "" {
			return cfg, fmt.Errorf("--vip %q: not a prefix or an address", s)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		cfg.VIPs = append(cfg.VIPs, p.Masked())
	}
	return cfg, nil
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
