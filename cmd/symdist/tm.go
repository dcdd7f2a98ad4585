// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/symdist/symdist/chain/agent"
	"github.com/symdist/symdist/tm"
)

func newTMCmd() *cobra.Command {
	var cfg tm.Config
	var selfPorts, watch, chaining bool
	var logLevel string
	cmd := &cobra.Command{
		Use:   "tm --name NAME --listen VIP:PORT --backend IP:PORT --snat ADDR --controller URL",
		Short: "Run a reference traffic manager: a TCP proxy that source-NATs from self-source ports",
		Long: `tm is a TCP proxy for a symdist TM. It accepts connections on the virtual
addresses (--listen), picks a backend (--backend, --balance), and connects to
it from the shared SNAT address (--snat) with a self-source port: a port
greater than the backend's whose key (SNAT, port) hashes to a bucket this TM
owns, so the distributor brings the server's replies back to this TM
(docs/contract.md section 5, docs/tm.md). It copies bytes both ways with
half-close, connect and idle timeouts.

The bucket table of the TM's group comes from the controller (--controller,
--name, --token), pushed over its watch stream (docs/tmapi.md): a table that
takes ports away stops their use before the TM acknowledges it (after up to
--loss-grace for connections still on them), and the controller moves those
buckets only then. --watch=false polls every --refresh instead, as does a
JSON file like GET /api/groups/{group}/buckets returns (--buckets-file).
A connection that finds no usable self port (the TM has just joined and the
switches send it flows before its buckets are confirmed) waits up to --hold
for one instead of failing.

--http serves GET /healthz (for the controller's health check), GET /stats
(JSON counters) and GET /metrics (Prometheus).

Idle clients cannot use up the self-source ports: one client address holds at
most --max-conns-per-client connections, and from 80% of the ports in use the
idle timeout drops to --busy-idle-timeout until the use is under 70% again
(a warning is logged once per crossing). Nor the file descriptors: the TM
admits the connections RLIMIT_NOFILE leaves room for (two descriptors each,
128 kept for the rest), resets the others at once (refused_fd_limit in
/stats) and shortens the idle timeout from 80% of that budget too. SIGINT or SIGTERM stop accepting, wait up to --grace for the
active connections, then close them.

--chain (on by default) runs the chaining agent of symdist chain in the TM:
established connections survive planned moves of their buckets.

--self-ports=false lets the kernel pick the source port (a control run: in a
lab with several TMs most replies then reach the wrong TM).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
			}
			cfg.KernelPorts = !selfPorts
			cfg.Poll = !watch
			cfg.Log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			var a *agent.Agent
			var server atomic.Pointer[tm.Server]
			if chaining {
				a = agent.New(agent.Config{TM: cfg.Name, Log: cfg.Log, OnChained: func(dst netip.AddrPort) {
					if s := server.Load(); s != nil {
						s.Chained(dst)
					}
				}})
				cfg.OnTable, cfg.Collectors = a.SetTable, a.Collectors()
			}
			s, err := tm.New(cfg)
			if err != nil {
				return err
			}
			server.Store(s)
			if a != nil {
				failed := make(chan struct{})
				go func() {
					// Without the rights for it the TM still runs, as before chaining.
					if err := a.Run(cmd.Context()); err != nil {
						cfg.Log.Error("chaining off", "err", err)
					}
					close(failed)
				}()
				// Serve (and so pass the health check, and get buckets) only
				// once chaining is on, or known to be off.
				select {
				case <-a.Ready():
				case <-failed:
				case <-time.After(5 * time.Second):
					cfg.Log.Warn("chaining: the agent is not reading its queue after 5 s; serving without waiting")
				}
			}
			return s.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Name, "name", "", "the TM's name in the controller config")
	f.StringArrayVar(&cfg.Listen, "listen", nil, "virtual address to accept connections on, ADDRESS:PORT (repeat)")
	f.StringArrayVar(&cfg.Backends, "backend", nil, "backend server, IP:PORT (repeat)")
	f.StringVar(&cfg.Balance, "balance", tm.RoundRobin, "backend choice: round-robin or least-conn")
	f.StringVar(&cfg.SNAT, "snat", "", "shared source address of backend connections")
	f.BoolVar(&selfPorts, "self-ports", true, "use self-source ports (false: the kernel picks; a control run)")
	f.Uint16Var(&cfg.MinPort, "min-port", 1024, "lowest self-source port")
	f.Var(&configURLs{urls: &cfg.Controller}, "controllers-from", "take the controllers' URLs from a controller config's `controllers` list")
	f.Var(&urlList{urls: &cfg.Controller}, "controller", "the controller's admin API URL, e.g. http://10.0.9.1:9090; repeat it (or a comma list) for the controller pair: the TM follows the primary")
	tokenFlag(f, &cfg.Token, "")
	f.StringVar(&cfg.BucketsFile, "buckets-file", "", "read the bucket table from this JSON file instead of a controller")
	f.DurationVar(&cfg.Refresh, "refresh", time.Second, "how often to fetch the bucket table again when polling")
	f.BoolVar(&watch, "watch", true, "follow the controller's bucket-table watch (false: poll every --refresh)")
	f.DurationVar(&cfg.Hold, "hold", 2*time.Second, "how long a connection waits for a usable self port (0: fail at once)")
	f.DurationVar(&cfg.LossGrace, "loss-grace", 200*time.Millisecond, "before acknowledging lost ports, wait this long for connections on them to end")
	f.StringVar(&cfg.HTTP, "http", "", "serve /healthz and /stats on ADDRESS:PORT (empty: none)")
	f.DurationVar(&cfg.ConnectTimeout, "connect-timeout", 5*time.Second, "backend connect timeout")
	f.DurationVar(&cfg.IdleTimeout, "idle-timeout", 5*time.Minute, "close a connection idle both ways this long (0: never)")
	f.DurationVar(&cfg.BusyIdleTimeout, "busy-idle-timeout", 15*time.Second, "the idle timeout while 80% or more of the self-source ports are in use, or of the file descriptor budget (until both are under 70%; 0: no change)")
	f.IntVar(&cfg.MaxConnsPerClient, "max-conns-per-client", 1000, "connections one client address may hold at once; more are reset (0: no limit)")
	f.DurationVar(&cfg.Grace, "grace", 10*time.Second, "on SIGINT/SIGTERM, wait this long for active connections")
	f.BoolVar(&cfg.Freebind, "freebind", false, "IP_FREEBIND: bind virtual and SNAT addresses not configured on an interface")
	f.BoolVar(&chaining, "chain", true, "hand packets of connections this host does not know to the bucket's previous owner (symdist chain built in; needs CAP_NET_ADMIN)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
