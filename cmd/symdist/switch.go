package main

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/symdist/symdist/swmodel"
	"github.com/symdist/symdist/swswitch"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
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

func newSwitchCmd() *cobra.Command {
	var grpcAddr string
	var deviceID uint64
	var portSpecs []string
	var portIO string
	cmd := &cobra.Command{
		Use:   "switch --grpc ADDR --device-id N --port N=IFNAME ...",
		Short: "Run the software switch: the Go pipeline behind a P4Runtime server, on Linux interfaces",
		Long: `switch serves P4Runtime on --grpc and moves frames between the Linux
interfaces given with --port (AF_PACKET; needs CAP_NET_RAW). It holds no
pipeline until a controller pushes one; frames received before that are
dropped. SIGINT or SIGTERM stop it cleanly. --port-io ring (the default)
moves frames through memory-mapped packet rings (8 MiB to receive and 2 MiB
to send per port); socket uses one system call per frame.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			portNames, err := parsePortMap(portSpecs)
			if err != nil {
				return err
			}
			open := swswitch.OpenInterface
			switch portIO {
			case "ring":
			case "socket":
				open = swswitch.OpenSocketInterface
			default:
				return fmt.Errorf("--port-io: want ring or socket, got %q", portIO)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
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
			sw := swswitch.New(deviceID, ports, log)
			ln, err := net.Listen("tcp", grpcAddr)
			if err != nil {
				return err
			}
			gs := grpc.NewServer(sw.Server().ServerOptions()...)
			sw.Server().Register(gs)
			log.Info("software switch serving P4Runtime", "address", ln.Addr().String(), "device_id", sw.Server().DeviceID(), "ports", len(ports))
			g, ctx := errgroup.WithContext(cmd.Context())
			g.Go(func() error { return gs.Serve(ln) })
			g.Go(func() error {
				err := sw.Run(ctx)
				gs.GracefulStop()
				return err
			})
			return g.Wait()
		},
	}
	cmd.Flags().StringVar(&grpcAddr, "grpc", "127.0.0.1:9559", "P4Runtime listen address")
	cmd.Flags().Uint64Var(&deviceID, "device-id", 1, "P4Runtime device id")
	cmd.Flags().StringArrayVar(&portSpecs, "port", nil, "switch port NUMBER=INTERFACE (repeat)")
	cmd.Flags().StringVar(&portIO, "port-io", "ring", "how frames move: ring (memory-mapped packet rings) or socket (a system call per frame)")
	return cmd
}
