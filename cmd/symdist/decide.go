// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/symdist/symdist/desired"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/spf13/cobra"
	"github.com/symdist/symdist/capture"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swmodel"
	"github.com/symdist/symdist/vectors"
)

func newDecideCmd() *cobra.Command {
	var statePath, pcapPath, swName string
	var inPort uint16
	cmd := &cobra.Command{
		Use:   "decide --state FILE --pcap FILE",
		Short: "Print what the software model does with each packet of a capture",
		Long: `decide runs every packet of a pcap or pcapng file through the software model
of the pipeline, holding the switch state given by --state (a P4Runtime
WriteRequest in text format, as test/vectors/state.txtpb), and prints one JSON
line per packet: index, ingress port, egress ports, group, key, bucket, TM and
reason. Compare a switch's behaviour against these lines.

Captures of Ethernet (link type 1) are run as captured. Raw IP captures (link
types 101, 228, 229) are wrapped in an Ethernet header 02:00:00:00:00:01 >
02:00:00:00:00:02 with the EtherType of their IP version, since the pipeline
takes Ethernet frames; their lines say "raw_ip_wrapped": true. Other link
types are refused. A malformed capture (cut short, a length beyond its block,
a packet over 256 KiB) stops decide with an error naming the packet and its
byte offset, after the lines of the packets before it; the exit code is 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if statePath == "" || pcapPath == "" {
				return errors.New("decide needs --state and --pcap")
			}
			if inPort >= swmodel.MaxPorts {
				return fmt.Errorf("--in-port %d: ports are 0-%d", inPort, swmodel.MaxPorts-1)
			}
			return decide(cmd.OutOrStdout(), statePath, swName, pcapPath, inPort)
		},
	}
	cmd.Flags().StringVar(&statePath, "state", "", "switch state: a P4Runtime WriteRequest in text format, or a controller config (.yaml)")
	cmd.Flags().StringVar(&swName, "switch", "", "with a config: the switch whose state to use (default the first)")
	cmd.Flags().StringVar(&pcapPath, "pcap", "", "packets: a pcap or pcapng file")
	cmd.Flags().Uint16Var(&inPort, "in-port", 1, "ingress port of every packet")
	return cmd
}

// decision is one line of decide's output.
type decision struct {
	Index       int      `json:"index"`
	IngressPort uint16   `json:"ingress_port"`
	EgressPorts []uint16 `json:"egress_ports"`
	Group       uint16   `json:"group,omitempty"`
	KeyAddr     string   `json:"key_addr,omitempty"`
	KeyPort     *uint16  `json:"key_port,omitempty"`
	Bucket      *uint16  `json:"bucket,omitempty"`
	TM          *uint16  `json:"tm,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	Multicast   uint16   `json:"multicast_group,omitempty"`
	Drop        string   `json:"drop,omitempty"`
	// RawIPWrapped: the capture held a raw IP packet, run through the
	// model in an Ethernet header (capture.Ethernet).
	RawIPWrapped bool `json:"raw_ip_wrapped,omitempty"`
}

func newDecision(i int, tr swmodel.Trace, ports []uint16) decision {
	d := decision{Index: i, IngressPort: tr.IngressPort, EgressPorts: append([]uint16{}, ports...),
		Group: tr.Group, Multicast: tr.Multicast}
	if tr.HasKey {
		d.KeyAddr = tr.KeyAddr.String()
		d.KeyPort, d.Bucket = &tr.KeyPort, &tr.Bucket
	}
	if tr.Steered {
		d.TM, d.Reason = &tr.TM, tr.Reason.String()
	}
	if tr.Drop != swmodel.DropNone {
		d.Drop = tr.Drop.String()
	}
	return d
}

// loadState reads the switch state: P4Runtime updates in text format, or
// what a fresh controller would write for a config.
func loadState(path, swName string) ([]*p4v1.Update, error) {
	if strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml") {
		cfg, err := config.Load(path)
		if err != nil {
			return nil, err
		}
		return desired.AllUp(cfg, swName)
	}
	return vectors.ReadState(path)
}

func decide(w io.Writer, statePath, swName, pcapPath string, inPort uint16) error {
	p, err := swmodel.New(p4info.MustLoad())
	if err != nil {
		return err
	}
	updates, err := loadState(statePath, swName)
	if err != nil {
		return fmt.Errorf("reading state: %w", err)
	}
	if err := p.WriteAll(updates); err != nil {
		return fmt.Errorf("%s: %w", statePath, err)
	}
	f, err := os.Open(pcapPath)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := capture.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", pcapPath, err)
	}
	enc := json.NewEncoder(w)
	var res swmodel.Result
	var frame []byte
	for {
		pkt, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", pcapPath, err)
		}
		var wrapped bool
		if frame, wrapped, err = capture.Ethernet(pkt, frame); err != nil {
			return fmt.Errorf("%s: %w", pcapPath, err)
		}
		p.Process(inPort, frame, &res)
		d := newDecision(pkt.Index, res.Trace, res.Ports)
		d.RawIPWrapped = wrapped
		if err := enc.Encode(d); err != nil {
			return err
		}
	}
}
