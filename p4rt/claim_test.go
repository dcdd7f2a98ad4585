// SPDX-License-Identifier: Apache-2.0

package p4rt

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/protobuf/testing/protocmp"
)

// The election id a claim uses: one above the highest, carrying into the
// high word; none above {2^64-1, 2^64-1} (it used to wrap to {0, 0}).
func TestAbove(t *testing.T) {
	const max = math.MaxUint64
	tests := []struct {
		name     string
		id, want *p4v1.Uint128
	}{
		{"low word", &p4v1.Uint128{Low: 10}, &p4v1.Uint128{Low: 11}},
		{"carry", &p4v1.Uint128{High: 3, Low: max}, &p4v1.Uint128{High: 4}},
		{"no id reported", nil, &p4v1.Uint128{Low: 1}},
		{"the highest there is", &p4v1.Uint128{High: max, Low: max}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := above(tt.id)
			if ok != (tt.want != nil) {
				t.Fatalf("above(%v) ok=%v, want %v", tt.id, ok, tt.want != nil)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("above(%v) (-want +got):\n%s", tt.id, diff)
			}
		})
	}
}
