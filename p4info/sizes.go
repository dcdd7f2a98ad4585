// SPDX-License-Identifier: Apache-2.0

package p4info

import (
	"errors"
	"fmt"
)

// Sizes are the capacities the P4Info declares (the P4 program's size.p4),
// resolved once like IDs, so that config checks and the controller take
// them from the pipeline they run rather than from constants.
type Sizes struct {
	PortRole        int // port_role entries
	GroupClassifier int // group_classifier entries (rules and their mirrors)
	TMAddressV4     int // tm_address_v4 entries
	TMAddressV6     int // tm_address_v6 entries
	BucketTable     int // bucket_table entries (all groups' buckets together)
	DefaultTM       int // default_tm entries: at most one per group
	L2Forward       int // l2_forward entries (static MACs and the TMs')
	TMMembers       int // tm_members action-profile members: one per TM
	TMCounter       int // tm_counter cells: TM ids are below this
}

// ResolveSizes reads every capacity in Sizes, or fails naming each table,
// action profile or counter that is missing or declares no size.
func (s *Schema) ResolveSizes() (*Sizes, error) {
	var errs []error
	size := func(name string) int {
		id := s.ID(name)
		var n int64
		switch {
		case s.Tables[id] != nil:
			n = s.Tables[id].GetSize()
		case s.ActionProfiles[id] != nil:
			n = s.ActionProfiles[id].GetSize()
		case s.Counters[id] != nil:
			n = s.Counters[id].GetSize()
		default:
			errs = append(errs, fmt.Errorf("p4info: no table, action profile or counter named %q", name))
			return 0
		}
		if n <= 0 {
			errs = append(errs, fmt.Errorf("p4info: %q declares no size", name))
		}
		return int(n)
	}
	z := &Sizes{
		PortRole:        size(TablePortRole),
		GroupClassifier: size(TableGroupClassifier),
		TMAddressV4:     size(TableTMAddressV4),
		TMAddressV6:     size(TableTMAddressV6),
		BucketTable:     size(TableBucketTable),
		DefaultTM:       size(TableDefaultTM),
		L2Forward:       size(TableL2Forward),
		TMMembers:       size(ActionProfileTMMembers),
		TMCounter:       size(CounterTMCounter),
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return z, nil
}
