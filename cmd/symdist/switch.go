// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/symdist/symdist/p4rtserver"
	"github.com/symdist/symdist/swmodel"
	"github.com/symdist/symdist/swswitch"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// parsePortMap parses "--port N=IFNAME" values.
func parsePortMap(specs []string) (map[uint16]string, error) {
	out := map[uint16]string{}
	seen := map[string]bool{}
	for _, s := range specs {
		num, name, ok := strings.Cut(s, "=")
		n, err := strconv.ParseUint(num, 10, 16)
		if !ok || err != nil || name == "" {
			return nil, fmt.Errorf("--port %q: want NUMBER=INTERFACE, e.g. 1=veth1", s)
		}
		if n >= swmodel.MaxPorts-1 || n == swmodel.CPUPort {
			return nil, fmt.Errorf("--port %q: port must be 0-510 and not the CPU port %d", s, swmodel.CPUPort)
		}
		if _, dup := out[uint16(n)]; dup {
			return nil, fmt.Errorf("--port %q: port %d given twice", s, n)
		}
		if seen[name] {
			return nil, fmt.Errorf("--port %q: interface %s given twice", s, name)
		}
		seen[name] = true
		out[uint16(n)] = name
	}
	return out, nil
}

// switchStopGrace is how long symdist switch lets RPCs finish when it
// stops, after it has ended every StreamChannel.
const switchStopGrace = 2 * time.Second

// switchOptions are the flags of symdist switch.
type switchOptions struct {
	grpcAddr  string
	deviceID  uint64
	portSpecs []string
	// TLS: certificate and key; with a client CA, mutual TLS.
	tlsCert, tlsKey, tlsClientCA string
	// portIO is how frames move: "ring" (memory-mapped packet rings) or
	// "socket" (a system call per frame).
	portIO string
	// metrics is where to serve GET /metrics; empty: nowhere.
	metrics string
}

// credentials returns the gRPC option that serves TLS as the flags ask,
// or nil for plaintext.
func (o switchOptions) credentials() (grpc.ServerOption, error) {
	if o.tlsCert == "" && o.tlsKey == "" {
		if o.tlsClientCA != "" {
			return nil, errors.New("--tls-client-ca needs --tls-cert and --tls-key")
		}
		return nil, nil
	}
	tc, err := p4rtserver.ServerTLS(o.tlsCert, o.tlsKey, o.tlsClientCA)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key/--tls-client-ca: %w", err)
	}
	return grpc.Creds(credentials.NewTLS(tc)), nil
}

func newSwitchCmd() *cobra.Command {
	var o switchOptions
	cmd := &cobra.Command{
		Use:   "switch --grpc ADDR --device-id N --port N=IFNAME ... [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]",
		Short: "Run the software switch: the Go pipeline behind a P4Runtime server, on Linux interfaces",
		Long: `switch serves P4Runtime on --grpc and moves frames between the Linux
interfaces given with --port (AF_PACKET; needs CAP_NET_RAW). It holds no
pipeline until a controller pushes one; frames received before that are
dropped. With --tls-cert and --tls-key it serves TLS; with --tls-client-ca
too, mutual TLS (the controller's tls: {ca, cert, key} config). SIGINT or
SIGTERM stop it: open P4Runtime streams end with UNAVAILABLE at once, the
ports close, and RPCs still running after 2 s are cut. --port-io ring (the
default) moves frames through memory-mapped packet rings (8 MiB to receive
and 2 MiB to send per port); socket uses one system call per frame. --metrics serves GET /metrics:
symdist_p4runtime_server_refused_total counts the streams and requests the
P4Runtime server refused to stay within its limits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			return runSwitch(cmd.Context(), o, log, nil)
		},
	}
	cmd.Flags().StringVar(&o.grpcAddr, "grpc", "127.0.0.1:9559", "P4Runtime listen address")
	cmd.Flags().Uint64Var(&o.deviceID, "device-id", 1, "P4Runtime device id (0, bmv2's default, too)")
	cmd.Flags().StringArrayVar(&o.portSpecs, "port", nil, "switch port NUMBER=INTERFACE (repeat)")
	cmd.Flags().StringVar(&o.tlsCert, "tls-cert", "", "serve P4Runtime over TLS with this certificate (PEM; with --tls-key)")
	cmd.Flags().StringVar(&o.tlsKey, "tls-key", "", "the private key of --tls-cert (PEM)")
	cmd.Flags().StringVar(&o.tlsClientCA, "tls-client-ca", "", "mutual TLS: accept only clients with a certificate from these CAs (PEM)")
	cmd.Flags().StringVar(&o.portIO, "port-io", "ring", "how frames move: ring (memory-mapped packet rings) or socket (a system call per frame)")
	cmd.Flags().StringVar(&o.metrics, "metrics", "", "serve GET /metrics on ADDRESS:PORT (empty: none)")
	return cmd
}

// runSwitch runs the software switch until ctx ends. ready, if not nil,
// is called with the P4Runtime address once it is served.
func runSwitch(ctx context.Context, o switchOptions, log *slog.Logger, ready func(addr string)) error {
	portNames, err := parsePortMap(o.portSpecs)
	if err != nil {
		return err
	}
	open := swswitch.OpenInterface
	switch o.portIO {
	case "ring", "":
	case "socket":
		open = swswitch.OpenSocketInterface
	default:
		return fmt.Errorf("--port-io: want ring or socket, got %q", o.portIO)
	}
	creds, err := o.credentials() // before any port is opened
	if err != nil {
		return err
	}
	var metricsLn net.Listener
	if o.metrics != "" {
		if metricsLn, err = net.Listen("tcp", o.metrics); err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
		defer metricsLn.Close()
	}
	ports := map[uint16]swswitch.Port{}
	for n, name := range portNames {
		p, err := open(name)
		if err != nil {
			for _, q := range ports {
				q.Close()
			}
			return err
		}
		ports[n] = p
	}
	var opts []grpc.ServerOption
	if creds != nil {
		opts = append(opts, creds)
	}
	sw, err := swswitch.Listen(swswitch.Config{Addr: o.grpcAddr, DeviceID: o.deviceID, Ports: ports,
		ServerOptions: opts, Log: log, StopGrace: switchStopGrace})
	if err != nil {
		return err
	}
	log.Info("software switch serving P4Runtime", "address", sw.Addr(), "device_id", sw.Server().DeviceID(), "ports", len(ports), "tls", creds != nil, "mutual_tls", o.tlsClientCA != "")
	var metricsDone chan error
	var metricsSrv *http.Server
	if metricsLn != nil {
		reg := prometheus.NewRegistry()
		reg.MustRegister(sw.Server().Collectors()...)
		metricsSrv = &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
			ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute}
		metricsDone = make(chan error, 1)
		go func() { metricsDone <- metricsSrv.Serve(metricsLn) }()
		log.Info("software switch serving metrics", "address", metricsLn.Addr())
	}
	if ready != nil {
		ready(sw.Addr())
	}
	var err2 error
	select {
	case <-ctx.Done():
	case err2 = <-metricsDone: // nil channel without --metrics
		err2 = fmt.Errorf("--metrics: %w", err2)
	}
	sw.Stop()
	if metricsSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = metricsSrv.Shutdown(sctx)
	}
	return err2
}
