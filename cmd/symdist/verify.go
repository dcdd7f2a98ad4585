// SPDX-License-Identifier: Apache-2.0

package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/capture"

	"github.com/spf13/cobra"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/verify"
)

// exitError is an error with an exit code other than 1: verify exits 1
// when it found differences and 2 when it could not check.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// cannotCheck is verify's exit 2.
func cannotCheck(err error) error { return &exitError{code: 2, err: err} }

// verifyFlags are the flags both verify commands share.
type verifyFlags struct {
	configPath, addr, name, ctrlURL, token string
	deviceID                               uint64
	tls                                    config.TLS
	asJSON                                 bool
	timeout                                time.Duration
}

func (f *verifyFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.configPath, "config", "", "the deployment's controller config: every switch, and what each must hold")
	fl.StringVar(&f.addr, "switch", "", "one switch's P4Runtime address (host:port)")
	fl.Uint64Var(&f.deviceID, "device-id", 1, "with --switch: its P4Runtime device id")
	fl.StringVar(&f.name, "name", "", "with --config: the switch's name in it (default: the one at --switch)")
	fl.Var(&urlList{urls: &f.ctrlURL}, "controller", "the controller's admin API (e.g. http://127.0.0.1:9090): TM health and its bucket tables; repeat it (or a comma list) for the pair: the primary answers")
	tokenFlag(fl, &f.token, "the admin API's bearer token (default $SYMDIST_TOKEN, else the config's)")
	fl.StringVar(&f.tls.CA, "tls-ca", "", "with --switch: CA certificate of the switch's P4Runtime server (TLS)")
	fl.StringVar(&f.tls.Cert, "tls-cert", "", "with --switch: client certificate (mutual TLS)")
	fl.StringVar(&f.tls.Key, "tls-key", "", "with --switch: client key (mutual TLS)")
	fl.StringVar(&f.tls.ServerName, "tls-server-name", "", "with --switch: the name the server's certificate must carry")
	fl.BoolVar(&f.asJSON, "json", false, "print JSON")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "for reading the switches and the controller")
}

// resolve loads the config and works out the switches to read.
func (f *verifyFlags) resolve() (*config.Config, []verify.Target, *adminapi.Client, error) {
	var cfg *config.Config
	if f.configPath != "" {
		var err error
		if cfg, err = config.Load(f.configPath); err != nil {
			return nil, nil, nil, err
		}
	}
	var ctrl *adminapi.Client
	if f.ctrlURL != "" {
		token := f.token
		if token == "" && cfg != nil {
			token = cfg.Admin.Token
		}
		ctrl = &adminapi.Client{URL: f.ctrlURL, Token: token}
	}
	var targets []verify.Target
	switch {
	case f.addr == "" && cfg == nil:
		return nil, nil, nil, errors.New("give --config FILE or --switch ADDR --device-id N")
	case f.addr == "" && f.name == "":
		targets = verify.Targets(cfg)
	case cfg != nil:
		for _, t := range verify.Targets(cfg) {
			if f.name != "" && t.Name == f.name || f.name == "" && t.Address == f.addr {
				if f.addr != "" {
					t.Address, t.DeviceID = f.addr, f.deviceID
				}
				targets = append(targets, t)
			}
		}
		if len(targets) == 0 {
			return nil, nil, nil, fmt.Errorf("%s has no switch %s", f.configPath, cmp.Or(f.name, "at "+f.addr))
		}
	default:
		t := verify.Target{Name: f.addr, Address: f.addr, DeviceID: f.deviceID}
		if f.tls != (config.TLS{}) {
			t.TLS = &f.tls
		}
		targets = append(targets, t)
	}
	return cfg, targets, ctrl, nil
}

// report prints r (JSON with --json) and returns exit 1 when it found
// differences: problems, counted by the format.
func (f *verifyFlags) report(w io.Writer, r interface{ Print(io.Writer) }, problems int, format string) error {
	if f.asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		r.Print(w)
	}
	if problems > 0 {
		return &exitError{code: 1, err: fmt.Errorf(format, problems)}
	}
	return nil
}

func newVerifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Hold live switches against the model: their state, and the traffic through them",
		Long: `verify reads switches over P4Runtime without disturbing their primary
controller (no election id, no arbitration stream, never a write) and checks
them (docs/verify.md). Exit status: 0 ok, 1 differences found, 2 could not
check (unreachable switch, wrong device id, another program, bad input).`,
	}
	cmd.AddCommand(newVerifyStateCmd(), newVerifyTrafficCmd())
	return cmd
}

func newVerifyStateCmd() *cobra.Command {
	var f verifyFlags
	var health bool
	cmd := &cobra.Command{
		Use:   "state (--config FILE | --switch ADDR --device-id N [--config FILE --name SW])",
		Short: "Check what the switches hold: buckets, shares, the distributors alike, ports, MACs, counters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, targets, ctrl, err := f.resolve()
			if err != nil {
				return cannotCheck(err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			r, err := verify.State(ctx, verify.StateOptions{Config: cfg, Targets: targets, Controller: ctrl, Health: health})
			if err != nil {
				return cannotCheck(err)
			}
			return f.report(cmd.OutOrStdout(), r, len(r.Problems), "verify state: %d problems")
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&health, "health", false, "with --config and no --controller: run each TM's health check once to know which are up")
	return cmd
}

// parsePorts reads --port N=IFACE flags.
func parsePorts(specs []string) (map[uint16]string, error) {
	ports := map[uint16]string{}
	for _, s := range specs {
		n, iface, ok := strings.Cut(s, "=")
		port, err := strconv.ParseUint(n, 10, 16)
		if !ok || err != nil || iface == "" {
			return nil, fmt.Errorf("--port %q: want PORT=IFACE, e.g. 1=veth1", s)
		}
		ports[uint16(port)] = iface
	}
	return ports, nil
}

func newVerifyTrafficCmd() *cobra.Command {
	var f verifyFlags
	var portSpecs []string
	var pcapPath string
	var random, burst int
	var seed uint64
	var inPort uint16
	cmd := &cobra.Command{
		Use:   "traffic --switch ADDR --device-id N --port N=IFACE ... [--pcap FILE | --random N]",
		Short: "Send packets through a switch's ports and compare what leaves with the model, packet for packet",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ports, err := parsePorts(portSpecs)
			if err != nil {
				return cannotCheck(err)
			}
			switch {
			case pcapPath != "" && cmd.Flags().Changed("random"):
				return cannotCheck(errors.New("give --pcap or --random, not both"))
			case random <= 0:
				return cannotCheck(fmt.Errorf("--random %d: want 1 or more packets", random))
			case burst <= 0:
				return cannotCheck(fmt.Errorf("--burst %d: want 1 or more packets", burst))
			}
			cfg, targets, ctrl, err := f.resolve()
			if err != nil {
				return cannotCheck(err)
			}
			if len(targets) != 1 {
				return cannotCheck(errors.New("verify traffic checks one switch: give --switch or --name"))
			}
			var frames [][]byte
			if pcapPath != "" {
				if frames, err = readPcap(pcapPath); err != nil {
					return cannotCheck(err)
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			r, err := verify.Traffic(ctx, verify.TrafficOptions{Target: targets[0], Ports: ports, Frames: frames, InPort: inPort,
				Random: random, Seed: seed, Config: cfg, Controller: ctrl, Burst: burst})
			if err != nil {
				return cannotCheck(err)
			}
			return f.report(cmd.OutOrStdout(), r, len(r.Differences), "verify traffic: %d packets differ from the model")
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&portSpecs, "port", nil, "PORT=IFACE: the interface here cabled to switch port PORT (repeat)")
	fl.StringVar(&pcapPath, "pcap", "", "send the packets of this pcap or pcapng file (on --in-port)")
	fl.Uint16Var(&inPort, "in-port", 0, "with --pcap: the port they enter (default the switch's first edge port cabled here)")
	fl.IntVar(&random, "random", 10000, "send this many packets of the conformance generator, made for the switch's state")
	fl.Uint64Var(&seed, "seed", 1, "seed of the random packets")
	fl.IntVar(&burst, "burst", 50, "packets sent before waiting for their outputs")
	return cmd
}

// readPcap reads every frame of a pcap or pcapng file (raw IP packets
// wrapped in Ethernet as `symdist decide` does, capture.Ethernet).
func readPcap(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := capture.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var frames [][]byte
	for {
		pkt, err := r.Next()
		if errors.Is(err, io.EOF) {
			return frames, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		frame, _, err := capture.Ethernet(pkt, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		frames = append(frames, frame)
	}
}
