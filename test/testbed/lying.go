// SPDX-License-Identifier: Apache-2.0

package testbed

import p4v1 "github.com/p4lang/p4runtime/go/p4/v1"

// RepeatEntity answers a Read as a lying switch would: the same entity
// again and again, a thousand to a message, until max have been sent (so
// that a reader without a bound still ends). The tests of the controller's
// and verify's read bounds serve it from their fake switches.
func RepeatEntity(s p4v1.P4Runtime_ReadServer, entity *p4v1.Entity, max int) error {
	resp := &p4v1.ReadResponse{}
	for range 1000 {
		resp.Entities = append(resp.Entities, entity)
	}
	for sent := 0; sent < max; sent += len(resp.Entities) {
		if err := s.Send(resp); err != nil {
			return err
		}
	}
	return nil
}
