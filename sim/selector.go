// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"container/heap"
	"fmt"
	"slices"
)

// Selector models a P4 action selector in bmv2 (simple_switch) programmed
// over P4Runtime through PI, member by member as those programs do it:
//
//   - bmv2 picks the member of a group for a packet in
//     pibmv2::GroupSelection::GroupInfo::get_from_hash (PI,
//     targets/bmv2/group_selection.cpp), the GroupSelectionIface that PI
//     installs in bm::ActionProfile (behavioral-model,
//     src/bm_sim/action_profile.cpp; its default GroupMgr::get_from_hash is
//     the same with every member active): index = h mod (number of
//     activated members), member = activated_members.get_nth(index).
//     activated_members is a RandAccessUIntSet (src/bm_sim/ras.h, a Judy1
//     bit set) and get_nth(n) is its (n+1)-th smallest member handle: the
//     members are ordered by handle.
//   - h is the selector's hash of the packet (HashAlgorithm.crc32 over the
//     selector fields; here the same key bytes as the contract, so h is
//     contract.Hash of the flow's key).
//   - Member handles come from bm::HandleMgr, which hands out the lowest
//     free handle (Judy1 first-empty): handles freed by deleted members are
//     reused first.
//   - Weights: PI (proto/frontend/src/action_prof_mgr.cpp,
//     ActionProfAccessManual) programs a member of weight w as w copies of
//     the member, each its own bmv2 member handle
//     (create_missing_weighted_members), all in the group. A weight change
//     adds copies i = old..new-1, or removes copies i = old-1 down to new,
//     and deletes the copies no group uses any more
//     (purge_unused_weighted_members).
//   - A TM whose port goes down is deactivated, not removed: with a watch
//     port, PI's WatchPortEnforcer calls GroupSelection::deactivate_member
//     for each of its copies, and activate_member when the port comes back.
//
// So a group of unweighted members never changed since it was written is
// exactly hash mod N over its members in the order they were created; the
// differences from plain ECMP come from weights (copies) and from reused
// handles. The controller's writes are counted as target operations:
// member create and delete, group add and remove member, activate and
// deactivate.
type Selector struct {
	next    int     // handles below next have been handed out
	free    intHeap // handles below next that are free
	members map[int32]*selMember
	groups  map[int]map[int32]bool // group -> handles in it
}

type selMember struct {
	handles []int32 // handles[0] is the member; the rest are weight copies
	group   int
	weight  int  // copies in the group
	active  bool // watch port up
	created bool
}

// NewSelector returns an empty action selector.
func NewSelector() *Selector {
	return &Selector{members: make(map[int32]*selMember), groups: make(map[int]map[int32]bool)}
}

func (s *Selector) allocHandle() int32 {
	if s.free.Len() > 0 {
		return int32(heap.Pop(&s.free).(int))
	}
	s.next++
	return int32(s.next - 1)
}

func (s *Selector) freeHandle(h int32) { heap.Push(&s.free, int(h)) }

// CreateMember is the P4Runtime INSERT of the TM's action profile member.
// It returns the target operations (1).
func (s *Selector) CreateMember(id int32, group int) (int, error) {
	if m, ok := s.members[id]; ok && m.created {
		return 0, fmt.Errorf("selector: member %d exists", id)
	}
	s.members[id] = &selMember{handles: []int32{s.allocHandle()}, group: group, active: true, created: true}
	return 1, nil
}

// SetWeight is the P4Runtime MODIFY of the TM's group that gives the
// member weight w (0 takes it out of the group), as PI carries it out. It
// returns the target operations.
func (s *Selector) SetWeight(id int32, w int) (int, error) {
	m, ok := s.members[id]
	if !ok {
		return 0, fmt.Errorf("selector: no member %d", id)
	}
	grp := s.groups[m.group]
	if grp == nil {
		grp = make(map[int32]bool)
		s.groups[m.group] = grp
	}
	ops := 0
	for len(m.handles) < w { // create_missing_weighted_members
		m.handles = append(m.handles, s.allocHandle())
		ops++
	}
	for i := m.weight - 1; i >= w; i-- { // remove members as needed
		delete(grp, m.handles[i])
		ops++
	}
	for i := m.weight; i < w; i++ { // add members as needed
		grp[m.handles[i]] = m.active
		ops++
	}
	m.weight = w
	for len(m.handles) > max(w, 1) { // purge_unused_weighted_members
		s.freeHandle(m.handles[len(m.handles)-1])
		m.handles = m.handles[:len(m.handles)-1]
		ops++
	}
	return ops, nil
}

// DeleteMember takes the member out of its group and deletes it (and its
// copies). It returns the target operations.
func (s *Selector) DeleteMember(id int32) (int, error) {
	ops, err := s.SetWeight(id, 0)
	if err != nil {
		return 0, err
	}
	m := s.members[id]
	for _, h := range m.handles {
		s.freeHandle(h)
		ops++
	}
	delete(s.members, id)
	return ops, nil
}

// SetActive is the watch port of the member going down (false) or up
// (true): each of its copies in the group is deactivated or activated. It
// returns the target operations.
func (s *Selector) SetActive(id int32, up bool) (int, error) {
	m, ok := s.members[id]
	if !ok {
		return 0, fmt.Errorf("selector: no member %d", id)
	}
	m.active = up
	grp := s.groups[m.group]
	ops := 0
	for i := range m.weight {
		if grp[m.handles[i]] != up {
			grp[m.handles[i]] = up
			ops++
		}
	}
	return ops, nil
}

// Lookup returns the group's lookup list: the TM ID of each activated
// member handle, in handle order. A flow goes to list[h mod len(list)].
func (s *Selector) Lookup(group int) []int32 {
	owner := make(map[int32]int32)
	for id, m := range s.members {
		if m.group == group {
			for _, h := range m.handles[:m.weight] {
				owner[h] = id
			}
		}
	}
	var hs []int32
	for h, active := range s.groups[group] {
		if active {
			hs = append(hs, h)
		}
	}
	slices.Sort(hs)
	list := make([]int32, len(hs))
	for i, h := range hs {
		list[i] = owner[h]
	}
	return list
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
