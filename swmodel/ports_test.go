// SPDX-License-Identifier: Apache-2.0

package swmodel

import (
	"strings"
	"testing"

	"github.com/symdist/symdist/p4info"
)

// The model takes the bmv2 build's P4Info, whose ports are 9 bits, and
// refuses the Tofino build's, whose translated ports are 32 bits and
// would index past its port tables.
func TestNewPortWidth(t *testing.T) {
	if _, err := New(p4info.MustLoad()); err != nil {
		t.Fatalf("the built-in P4Info: %v", err)
	}
	tofino, err := p4info.NewSchema(p4info.TranslatedPorts(p4info.MustLoad().Info))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(tofino); err == nil || !strings.Contains(err.Error(), "9-bit device ports") {
		t.Errorf("New on the translated P4Info: %v, want a refusal", err)
	}
}
