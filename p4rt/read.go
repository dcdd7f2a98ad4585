// SPDX-License-Identifier: Apache-2.0

package p4rt

import (
	"context"
	"errors"
	"io"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
)

// ReadEntities returns every entity of device deviceID matching the
// (wildcard) entities: one P4Runtime Read, which needs no election id and
// no stream (so `symdist verify` reads with it without disturbing the
// primary).
func ReadEntities(ctx context.Context, client p4v1.P4RuntimeClient, deviceID uint64, entities ...*p4v1.Entity) ([]*p4v1.Entity, error) {
	stream, err := client.Read(ctx, &p4v1.ReadRequest{DeviceId: deviceID, Entities: entities})
	if err != nil {
		return nil, err
	}
	var out []*p4v1.Entity
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, resp.GetEntities()...)
	}
}
