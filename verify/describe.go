// SPDX-License-Identifier: Apache-2.0

package verify

import (
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/desired"
	"github.com/symdist/symdist/p4info"
)

// describe renders an entity with the P4Info's names, for people
// (desired.Describe).
func describe(schema *p4info.Schema, e *p4v1.Entity) string { return desired.Describe(schema, e) }

// padTo left-pads a canonical bytestring to n bytes.
func padTo(b []byte, n int) []byte {
	if len(b) >= n {
		return b[len(b)-n:]
	}
	return append(make([]byte, n-len(b)), b...)
}

// uintOf decodes a bytestring, network order.
func uintOf(b []byte) uint64 {
	var x uint64
	for _, c := range b {
		x = x<<8 | uint64(c)
	}
	return x
}
