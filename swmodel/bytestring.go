// SPDX-License-Identifier: Apache-2.0

package swmodel

import (
	"fmt"
)

// canonical returns the P4Runtime canonical form of a bytestring for a
// field of bitwidth bits: no leading zero bytes, at least one byte. It
// accepts shorter or zero-padded input, and refuses a value that does not
// fit the field.
func canonical(b []byte, bitwidth int32) ([]byte, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("empty bytestring")
	}
	i := 0
	for i < len(b)-1 && b[i] == 0 {
		i++
	}
	c := b[i:]
	maxBytes := int(bitwidth+7) / 8
	if len(c) > maxBytes || (len(c) == maxBytes && bitwidth%8 != 0 && c[0]>>(bitwidth%8) != 0) {
		return nil, fmt.Errorf("value 0x%x does not fit in %d bits", b, bitwidth)
	}
	return append([]byte(nil), c...), nil
}

// padded writes the canonical bytestring c right-aligned into out.
func padded(out []byte, c []byte) {
	clear(out)
	copy(out[len(out)-len(c):], c)
}

func uintOf(c []byte) uint64 {
	var v uint64
	for _, x := range c {
		v = v<<8 | uint64(x)
	}
	return v
}
