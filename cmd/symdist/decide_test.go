// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/symdist/symdist/vectors"
)

var update = flag.Bool("update", false, "rewrite golden files")

// writePcap writes the frames of the vectors received on port to a pcap.
func writePcap(t *testing.T, port uint16) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for _, v := range vectors.Vectors() {
		if v.Port != port {
			continue
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, 0), CaptureLength: len(v.Frame), Length: len(v.Frame)}
		if err := w.WritePacket(ci, v.Frame); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestDecideGolden(t *testing.T) {
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"decide", "--state", "../../test/vectors/state.txtpb", "--pcap", writePcap(t, vectors.PortClient), "--in-port", "1"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "testdata/decide.golden.jsonl", out.Bytes())
}

func TestDecideErrors(t *testing.T) {
	notPcap := filepath.Join(t.TempDir(), "x")
	os.WriteFile(notPcap, []byte("not a capture"), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no flags", []string{"decide"}, "needs --state and --pcap"},
		{"missing state", []string{"decide", "--state", "/nonexistent", "--pcap", notPcap}, "no such file"},
		{"bad capture", []string{"decide", "--state", "../../test/vectors/state.txtpb", "--pcap", notPcap}, "neither pcap nor pcapng"},
		{"bad port", []string{"decide", "--state", "s", "--pcap", "p", "--in-port", "600"}, "ports are 0-511"},
		{"bad state", []string{"decide", "--state", notPcap, "--pcap", notPcap}, "state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := newRootCmd()
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetArgs(tt.args)
			err := cmd.Execute()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// With a controller config as the state, decide uses what the controller
// would write: every steered packet goes to a TM of the config.
func TestDecideFromConfig(t *testing.T) {
	out, err := runCmd(t, "decide", "--state", "../../examples/figure3.yaml", "--switch", "client-side", "--pcap", writePcap(t, vectors.PortClient))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	steered := 0
	for _, l := range lines {
		if strings.Contains(l, `"reason":"hashed"`) {
			steered++
			if !strings.Contains(l, `"egress_ports":[2]`) && !strings.Contains(l, `"egress_ports":[3]`) && !strings.Contains(l, `"egress_ports":[4]`) {
				t.Errorf("steered to a port that is no TM's: %s", l)
			}
		}
	}
	if steered == 0 {
		t.Errorf("no packet steered: %s", out)
	}
	if _, err := runCmd(t, "decide", "--state", "../../examples/figure3.yaml", "--switch", "nope", "--pcap", writePcap(t, 1)); err == nil || !strings.Contains(err.Error(), "no switch") {
		t.Errorf("unknown switch: %v", err)
	}
}
