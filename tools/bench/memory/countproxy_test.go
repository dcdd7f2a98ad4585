// SPDX-License-Identifier: Apache-2.0

package main

import (
	"testing"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/protobuf/proto"
)

func TestCountUpdates(t *testing.T) {
	update := &p4v1.Update{Type: p4v1.Update_INSERT, Entity: &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{
		TableEntry: &p4v1.TableEntry{TableId: 7, Match: []*p4v1.FieldMatch{{FieldId: 1}}},
	}}}
	tests := []struct {
		name    string
		updates int
	}{
		{"none", 0},
		{"one", 1},
		{"a batch", 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &p4v1.WriteRequest{DeviceId: 1, ElectionId: &p4v1.Uint128{High: 1, Low: 2},
				Atomicity: p4v1.WriteRequest_CONTINUE_ON_ERROR}
			for range tt.updates {
				req.Updates = append(req.Updates, update)
			}
			b, err := proto.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			if got := countUpdates(b); got != tt.updates {
				t.Errorf("countUpdates = %d, want %d", got, tt.updates)
			}
		})
	}
	t.Run("truncated", func(t *testing.T) {
		b, _ := proto.Marshal(&p4v1.WriteRequest{DeviceId: 1, Updates: []*p4v1.Update{update}})
		if got := countUpdates(b[:len(b)-3]); got != -1 {
			t.Errorf("countUpdates of a truncated message = %d, want -1", got)
		}
	})
}
