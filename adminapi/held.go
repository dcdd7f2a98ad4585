// SPDX-License-Identifier: Apache-2.0

package adminapi

import (
	"fmt"
	"net/netip"

	"github.com/symdist/symdist/ports"
)

// HeldFor is the ports that TM self must not hand out on its SNAT address
// snat: those the other TMs of held report on that address. An entry that
// does not parse is an error (the controller checked it: a table that
// carries one is not the controller's).
func HeldFor(held []Held, self string, snat netip.Addr) ([]uint16, error) {
	var out []uint16
	for _, h := range held {
		if h.TM == self {
			continue
		}
		a, err := netip.ParseAddr(h.SNAT)
		if err != nil {
			return nil, fmt.Errorf("held ports of %s: SNAT address %q: %w", h.TM, h.SNAT, err)
		}
		if a.Unmap() != snat.Unmap() {
			continue
		}
		p, err := ports.ParseRanges(h.Ports)
		if err != nil {
			return nil, fmt.Errorf("held ports of %s: %w", h.TM, err)
		}
		out = append(out, p...)
	}
	return out, nil
}

// InUseOf is the InUse of a TM's port table: the ports it still uses in
// buckets it lost, none when it uses none.
func InUseOf(tab *ports.Table) []InUse {
	if tab == nil {
		return nil
	}
	p := tab.InUseNotOwn()
	if len(p) == 0 {
		return nil
	}
	return []InUse{{SNAT: tab.SNAT.String(), Ports: ports.Ranges(p)}}
}
