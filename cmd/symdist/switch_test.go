// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePortMap(t *testing.T) {
	got, err := parsePortMap([]string{"1=veth1", "2=veth2", "510=x"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[uint16]string{1: "veth1", 2: "veth2", 510: "x"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		specs []string
		want  string
	}{
		{[]string{"veth1"}, "want NUMBER=INTERFACE"},
		{[]string{"1="}, "want NUMBER=INTERFACE"},
		{[]string{"x=veth1"}, "want NUMBER=INTERFACE"},
		{[]string{"511=veth1"}, "0-510"},
		{[]string{"255=veth1"}, "CPU port"},
		{[]string{"1=a", "1=b"}, "given twice"},
		{[]string{"1=a", "2=a"}, "interface a given twice"},
	} {
		if _, err := parsePortMap(tc.specs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parsePortMap(%v) = %v, want an error with %q", tc.specs, err, tc.want)
		}
	}
}

func TestSwitchRefusesMissingInterface(t *testing.T) {
	_, err := runCmd(t, "switch", "--grpc", "127.0.0.1:0", "--port", "1=no-such-if0")
	if err == nil || !strings.Contains(err.Error(), "no-such-if0") {
		t.Errorf("switch on a missing interface: %v", err)
	}
}
