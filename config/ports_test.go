// SPDX-License-Identifier: Apache-2.0

package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/symdist/symdist/p4info"
	"google.golang.org/protobuf/encoding/prototext"
)

// writeFiles writes name -> body under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// port_numbers against the target and the P4Info's port type, and the
// port numbers each allows.
func TestPortNumbers(t *testing.T) {
	dir := t.TempDir()
	translated, err := prototext.Marshal(p4info.TranslatedPorts(p4info.MustLoad().Info))
	if err != nil {
		t.Fatal(err)
	}
	builtin, err := prototext.Marshal(p4info.MustLoad().Info)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{
		"tofino.p4info.txtpb": string(translated),
		"bmv2.p4info.txtpb":   string(builtin),
		"sd.conf": `{"p4_devices":[{"p4_programs":[{"program-name":"sd","bfrt-config":"bf-rt.json",
			"p4_pipelines":[{"p4_pipeline_name":"pipe","context":"pipe/context.json","config":"pipe/tofino.bin"}]}]}]}`,
		"bf-rt.json": "R", "pipe/context.json": "C", "pipe/tofino.bin": "B",
	})
	tofinoP4Info := filepath.Join(dir, "tofino.p4info.txtpb")
	bmv2P4Info := filepath.Join(dir, "bmv2.p4info.txtpb")
	conf := filepath.Join(dir, "sd.conf")
	for _, tc := range []struct {
		name string
		// target and the switch's lines after it; edge and tm the ports.
		target, extra string
		edge, tm      int
		want          string // "" valid, else part of the error
	}{
		{"bmv2 device ports", "bmv2", "", 1, 2, ""},
		{"bmv2 port past 9 bits", "bmv2", "", 600, 2, "switches[0].ports[0].port: port 600 out of range 0-510 (a device port)"},
		{"bmv2 port 511, the drop port", "bmv2", "", 511, 2, "port 511 out of range 0-510"},
		{"bmv2 singleton", "bmv2", "port_numbers: singleton", 1, 2, "switches[0].port_numbers: singleton port ids are Stratum's"},
		{"unknown port_numbers", "bmv2", "port_numbers: front_panel", 1, 2, `switches[0].port_numbers: "front_panel": want device or singleton`},
		{"stratum device ports, built-in P4Info", "stratum", "tofino: {conf: " + conf + "}", 300, 301, ""},
		{"stratum device ports, Tofino P4Info", "stratum", "tofino: {conf: " + conf + "}\n    p4info: " + tofinoP4Info, 300, 301, ""},
		{"stratum device port past 9 bits", "stratum", "tofino: {conf: " + conf + "}\n    p4info: " + tofinoP4Info, 1000, 2, "port 1000 out of range 0-510"},
		{"stratum singleton, Tofino P4Info", "stratum", "tofino: {conf: " + conf + "}\n    p4info: " + tofinoP4Info + "\n    port_numbers: singleton", 1000, 65535, ""},
		{"stratum singleton id 0", "stratum", "tofino: {conf: " + conf + "}\n    p4info: " + tofinoP4Info + "\n    port_numbers: singleton", 0, 2, "singleton port id 0 is Stratum's unspecified port"},
		{"stratum singleton, built-in P4Info", "stratum", "tofino: {conf: " + conf + "}\n    port_numbers: singleton", 1, 2, "switches[0].port_numbers: Stratum translates singleton port ids into device ports only in fields whose P4Info type carries @p4runtime_translation(\"tna/PortId_t\"), and this switch's P4Info (the built-in one) has none"},
		{"stratum singleton, bmv2 P4Info file", "stratum", "tofino: {conf: " + conf + "}\n    p4info: " + bmv2P4Info + "\n    port_numbers: singleton", 1, 2, "this switch's P4Info (" + bmv2P4Info + ") has none"},
		{"preloaded singleton, Tofino P4Info", "preloaded", "p4info: " + tofinoP4Info + "\n    port_numbers: singleton", 1000, 2, ""},
		{"bf_switchd, Tofino P4Info", "bf_switchd", "tofino: {conf: " + conf + "}\n    p4info: " + tofinoP4Info, 1, 2, "switches[0].p4info: its port type is translated (32 bits, type port_num_t translated as tna/PortId_t), which only Stratum does"},
		{"bf_switchd singleton", "bf_switchd", "tofino: {conf: " + conf + "}\n    port_numbers: singleton", 1, 2, "singleton port ids are Stratum's"},
		{"p4info file missing", "stratum", "tofino: {conf: " + conf + "}\n    p4info: /nonexistent/p4info.txtpb", 1, 2, "switches[0].p4info: open /nonexistent/p4info.txtpb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := fmt.Sprintf(`admin: {listen: ""}
switches:
  - name: sw
    address: 127.0.0.1:9559
    target: %s
    %s
    ports: [{port: %d, role: edge}, {port: %d, role: tm}]
groups:
  - {name: g, id: 1, default_tm: a, rules: [{priority: 1, ip_version: 4}]}
tms:
  - {name: a, id: 1, group: g, ports: {sw: {port: %d, mac: "02:00:00:00:00:01"}}}
`, tc.target, tc.extra, tc.edge, tc.tm, tc.tm)
			_, err := Parse("ports.yaml", []byte(text))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("Parse succeeded, want an error with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}
