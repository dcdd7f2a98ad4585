// SPDX-License-Identifier: Apache-2.0

package ifswitch

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A bmv2 built with Thrift gets --thrift-port; the speed build, whose
// --help does not mention it, does not.
func TestBMv2Args(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, help string
		thrift     bool
	}{
		{"debug", "  --thrift-port arg        TCP port on which to run the Thrift runtime server", true},
		{"speed", "  --device-id arg          Device ID, used to identify the device", false},
		{"broken", "", false}, // --help fails: no flag rather than a refused one
	} {
		t.Run(c.name, func(t *testing.T) {
			bin := filepath.Join(dir, c.name)
			script := "#!/bin/sh\necho 'Usage: simple_switch_grpc [options]'\necho '" + c.help + "'\n"
			if c.help == "" {
				script = "#!/bin/sh\nexit 1\n"
			}
			if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			args, err := bmv2Args(bin, "127.0.0.1:1", []Port{{Number: 1, Interface: "veth1"}})
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(args, "--thrift-port"); got != c.thrift {
				t.Errorf("--thrift-port in args = %v, want %v: %s", got, c.thrift, strings.Join(args, " "))
			}
			for _, want := range []string{"-i 1@veth1", "-- --grpc-server-addr 127.0.0.1:1"} {
				if !strings.Contains(strings.Join(args, " "), want) {
					t.Errorf("args %q lack %q", args, want)
				}
			}
		})
	}
}
