// SPDX-License-Identifier: Apache-2.0

package swmodel

//lint:file-ignore SA1019 P4Runtime 1.4 deprecates Replica.egress_port and TableEntry.controller_metadata, but a switch must still serve (and a controller read) the clients that use them

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// tables is the state of the pipeline's tables in the form the controls
// look up: arrays and maps keyed as the P4 tables are.
type tables struct {
	portRoles   [MaxPorts]PortRole
	classifier  []classifierRule // highest priority first
	tmAddressV4 map[[4]byte]*sendToTM
	tmAddressV6 map[[16]byte]*sendToTM
	// maybeTM has a bit for the last 16 bits of every TM address, so that
	// most packets skip the map lookups above.
	maybeTM   *[1 << 16 / 64]uint64
	buckets   *bucketTree // by group_id and bucket: arrays, not maps, on the per-packet path
	defaultTM map[uint16]*sendToTM
	l2        map[uint64]uint16
	mcast     map[uint32][]uint16 // multicast group -> egress ports

	// classifierFor[0] and [1] are the rules of classifier that can match
	// an IPv4 and an IPv6 packet, in the same order (splitClassifier).
	classifierFor [2][]classifierRule
}

func newTables() tables {
	return tables{
		tmAddressV4: map[[4]byte]*sendToTM{},
		tmAddressV6: map[[16]byte]*sendToTM{},
		maybeTM:     new([1 << 16 / 64]uint64),
		buckets:     &bucketTree{},
		defaultTM:   map[uint16]*sendToTM{},
		l2:          map[uint64]uint16{},
		mcast:       map[uint32][]uint16{},
	}
}

func (t *tables) setMaybeTM(last2 []byte) {
	i := uint16(last2[0])<<8 | uint16(last2[1])
	t.maybeTM[i/64] |= 1 << (i % 64)
}

// mayBeTM reports whether an address ending in last2 can be a TM's.
func (t *tables) mayBeTM(last2 []byte) bool {
	i := uint16(last2[0])<<8 | uint16(last2[1])
	return t.maybeTM[i/64]&(1<<(i%64)) != 0
}

// storedMember is an action-profile member as written and as looked up.
type storedMember struct {
	proto *p4v1.ActionProfileMember
	m     *member
}

// store keeps every entity as written (in canonical form), for Read and
// for the checks of later writes.
type store struct {
	entries map[uint32]map[string]*p4v1.TableEntry // table ID -> match key -> entry
	members map[uint32]*storedMember               // member ID
	mcast   map[uint32]*p4v1.MulticastGroupEntry
}

func newStore() store {
	return store{
		entries: map[uint32]map[string]*p4v1.TableEntry{},
		members: map[uint32]*storedMember{},
		mcast:   map[uint32]*p4v1.MulticastGroupEntry{},
	}
}

func errorf(c codes.Code, format string, args ...any) error {
	return status.Errorf(c, format, args...)
}

// Write applies updates in order, each on its own (P4Runtime's
// CONTINUE_ON_ERROR). It returns one error per update, nil where it
// succeeded; an error is a gRPC status with the P4Runtime code.
func (p *Pipeline) Write(updates []*p4v1.Update) []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unshare(updates)
	errs := make([]error, len(updates))
	for i, u := range updates {
		errs[i] = p.writeOne(u)
	}
	p.publish()
	return errs
}

// WriteAll is Write for callers that want one error: the first failure,
// naming the update.
func (p *Pipeline) WriteAll(updates []*p4v1.Update) error {
	for i, err := range p.Write(updates) {
		if err != nil {
			return fmt.Errorf("update %d: %w", i, err)
		}
	}
	return nil
}

func (p *Pipeline) writeOne(u *p4v1.Update) error {
	if u == nil || u.GetEntity() == nil {
		return errorf(codes.InvalidArgument, "update has no entity")
	}
	switch u.GetType() {
	case p4v1.Update_INSERT, p4v1.Update_MODIFY, p4v1.Update_DELETE:
	default:
		return errorf(codes.InvalidArgument, "update type %v", u.GetType())
	}
	switch e := u.GetEntity().GetEntity().(type) {
	case *p4v1.Entity_TableEntry:
		return p.writeTableEntry(u.GetType(), e.TableEntry)
	case *p4v1.Entity_ActionProfileMember:
		return p.writeMember(u.GetType(), e.ActionProfileMember)
	case *p4v1.Entity_PacketReplicationEngineEntry:
		mg := e.PacketReplicationEngineEntry.GetMulticastGroupEntry()
		if mg == nil {
			return errorf(codes.Unimplemented, "only multicast group entries are supported")
		}
		return p.writeMulticast(u.GetType(), mg)
	case nil:
		return errorf(codes.InvalidArgument, "update has an entity of no type")
	default:
		return errorf(codes.Unimplemented, "entity %T cannot be written to this pipeline", e)
	}
}

// matchKey validates the match of e against table t and returns its
// canonical form (sorted by field ID) and a string key for it.
func (p *Pipeline) matchKey(t *p4configv1.Table, e *p4v1.TableEntry) ([]*p4v1.FieldMatch, string, error) {
	out, err := canonicalMatch(t, e.GetMatch())
	if err != nil {
		return nil, "", err
	}
	if hasTernaryField(t) {
		if e.GetPriority() <= 0 {
			return nil, "", errorf(codes.InvalidArgument, "table %s needs a priority > 0", t.GetPreamble().GetName())
		}
	} else if e.GetPriority() != 0 {
		return nil, "", errorf(codes.InvalidArgument, "table %s takes no priority", t.GetPreamble().GetName())
	}
	return out, fmt.Sprintf("%d;", e.GetPriority()) + matchString(out), nil
}

// matchString is the part of an entry's key that its match makes: the
// key is the priority, ";", then this.
func matchString(match []*p4v1.FieldMatch) string {
	var key strings.Builder
	for _, m := range match {
		fmt.Fprintf(&key, "%d=%x/%x;", m.GetFieldId(), m.GetExact().GetValue(), m.GetTernary().GetValue())
		if m.GetTernary() != nil {
			fmt.Fprintf(&key, "%x;", m.GetTernary().GetMask())
		}
	}
	return key.String()
}

// canonicalMatch validates a match against table t and returns it in
// canonical form, sorted by field ID.
func canonicalMatch(t *p4configv1.Table, match []*p4v1.FieldMatch) ([]*p4v1.FieldMatch, error) {
	fields := map[uint32]*p4configv1.MatchField{}
	for _, f := range t.GetMatchFields() {
		fields[f.GetId()] = f
	}
	seen := map[uint32]bool{}
	out := make([]*p4v1.FieldMatch, 0, len(match))
	for _, m := range match {
		f := fields[m.GetFieldId()]
		if f == nil {
			return nil, errorf(codes.InvalidArgument, "table %s has no match field %d", t.GetPreamble().GetName(), m.GetFieldId())
		}
		if seen[m.GetFieldId()] {
			return nil, errorf(codes.InvalidArgument, "match field %s given twice", f.GetName())
		}
		seen[m.GetFieldId()] = true
		c := &p4v1.FieldMatch{FieldId: m.GetFieldId()}
		switch f.GetMatchType() {
		case p4configv1.MatchField_EXACT:
			x := m.GetExact()
			if x == nil {
				return nil, errorf(codes.InvalidArgument, "match field %s must be exact", f.GetName())
			}
			v, err := canonical(x.GetValue(), f.GetBitwidth())
			if err != nil {
				return nil, errorf(codes.InvalidArgument, "match field %s: %v", f.GetName(), err)
			}
			c.FieldMatchType = &p4v1.FieldMatch_Exact_{Exact: &p4v1.FieldMatch_Exact{Value: v}}
		case p4configv1.MatchField_TERNARY:
			x := m.GetTernary()
			if x == nil {
				return nil, errorf(codes.InvalidArgument, "match field %s must be ternary", f.GetName())
			}
			v, err := canonical(x.GetValue(), f.GetBitwidth())
			if err != nil {
				return nil, errorf(codes.InvalidArgument, "match field %s value: %v", f.GetName(), err)
			}
			mask, err := canonical(x.GetMask(), f.GetBitwidth())
			if err != nil {
				return nil, errorf(codes.InvalidArgument, "match field %s mask: %v", f.GetName(), err)
			}
			if uintOfAll(mask) {
				return nil, errorf(codes.InvalidArgument, "match field %s: an all-zero mask must be left out (don't care)", f.GetName())
			}
			if !maskedBy(v, mask) {
				return nil, errorf(codes.InvalidArgument, "match field %s: value 0x%x has bits outside mask 0x%x", f.GetName(), v, mask)
			}
			c.FieldMatchType = &p4v1.FieldMatch_Ternary_{Ternary: &p4v1.FieldMatch_Ternary{Value: v, Mask: mask}}
		default:
			return nil, errorf(codes.Internal, "match type %v not supported", f.GetMatchType())
		}
		out = append(out, c)
	}
	for _, f := range t.GetMatchFields() {
		if f.GetMatchType() == p4configv1.MatchField_EXACT && !seen[f.GetId()] {
			return nil, errorf(codes.InvalidArgument, "exact match field %s is missing", f.GetName())
		}
	}
	slices.SortFunc(out, func(a, b *p4v1.FieldMatch) int { return cmp.Compare(a.GetFieldId(), b.GetFieldId()) })
	return out, nil
}

func hasTernaryField(t *p4configv1.Table) bool {
	for _, f := range t.GetMatchFields() {
		if f.GetMatchType() == p4configv1.MatchField_TERNARY {
			return true
		}
	}
	return false
}

func uintOfAll(c []byte) bool { return len(c) == 1 && c[0] == 0 }

func maskedBy(v, mask []byte) bool {
	// Both canonical: align right.
	for i := 1; i <= len(v); i++ {
		var m byte
		if i <= len(mask) {
			m = mask[len(mask)-i]
		}
		if v[len(v)-i]&^m != 0 {
			return false
		}
	}
	return true
}

// action validates a direct action of table t and returns it canonical.
func (p *Pipeline) action(t *p4configv1.Table, a *p4v1.Action) (*p4v1.Action, error) {
	allowed := false
	for _, ref := range t.GetActionRefs() {
		if ref.GetId() == a.GetActionId() {
			if ref.GetScope() == p4configv1.ActionRef_DEFAULT_ONLY {
				return nil, errorf(codes.InvalidArgument, "action %d is default-only in table %s", a.GetActionId(), t.GetPreamble().GetName())
			}
			allowed = true
		}
	}
	info := p.schema.Actions[a.GetActionId()]
	if !allowed || info == nil {
		return nil, errorf(codes.InvalidArgument, "table %s has no action %d", t.GetPreamble().GetName(), a.GetActionId())
	}
	return canonicalAction(info, a)
}

func canonicalAction(info *p4configv1.Action, a *p4v1.Action) (*p4v1.Action, error) {
	params := map[uint32]*p4configv1.Action_Param{}
	for _, pp := range info.GetParams() {
		params[pp.GetId()] = pp
	}
	out := &p4v1.Action{ActionId: a.GetActionId()}
	seen := map[uint32]bool{}
	for _, pa := range a.GetParams() {
		pp := params[pa.GetParamId()]
		if pp == nil {
			return nil, errorf(codes.InvalidArgument, "action %s has no parameter %d", info.GetPreamble().GetName(), pa.GetParamId())
		}
		if seen[pa.GetParamId()] {
			return nil, errorf(codes.InvalidArgument, "parameter %s given twice", pp.GetName())
		}
		seen[pa.GetParamId()] = true
		v, err := canonical(pa.GetValue(), pp.GetBitwidth())
		if err != nil {
			return nil, errorf(codes.InvalidArgument, "parameter %s: %v", pp.GetName(), err)
		}
		out.Params = append(out.Params, &p4v1.Action_Param{ParamId: pa.GetParamId(), Value: v})
	}
	if len(seen) != len(params) {
		return nil, errorf(codes.InvalidArgument, "action %s needs %d parameters, got %d", info.GetPreamble().GetName(), len(params), len(seen))
	}
	slices.SortFunc(out.Params, func(a, b *p4v1.Action_Param) int { return cmp.Compare(a.GetParamId(), b.GetParamId()) })
	return out, nil
}

func (p *Pipeline) writeTableEntry(op p4v1.Update_Type, e *p4v1.TableEntry) error {
	t := p.schema.Tables[e.GetTableId()]
	if t == nil {
		return errorf(codes.InvalidArgument, "unknown table ID %d", e.GetTableId())
	}
	name := t.GetPreamble().GetName()
	if e.GetIsDefaultAction() {
		// The default entry always exists: it can only be modified.
		switch {
		case op != p4v1.Update_MODIFY:
			return errorf(codes.InvalidArgument, "table %s: the default entry can only be modified, not %v", name, op)
		case t.GetConstDefaultActionId() != 0:
			return errorf(codes.PermissionDenied, "table %s has a const default action", name)
		}
		return errorf(codes.InvalidArgument, "table %s: the default action of an action-profile table cannot be set", name)
	}
	if e.GetIdleTimeoutNs() != 0 && t.GetIdleTimeoutBehavior() == p4configv1.Table_NO_TIMEOUT {
		return errorf(codes.InvalidArgument, "table %s has no idle timeout; idle_timeout_ns must be 0", name)
	}
	if e.GetTableId() == p.ids.BucketTable.Table {
		return p.writeBucketEntry(op, t, e)
	}
	match, key, err := p.matchKey(t, e)
	if err != nil {
		return err
	}
	entries := p.store.entries[e.GetTableId()]
	if entries == nil {
		entries = map[string]*p4v1.TableEntry{}
		p.store.entries[e.GetTableId()] = entries
	}
	old := entries[key]
	switch {
	case op == p4v1.Update_INSERT && old != nil:
		return errorf(codes.AlreadyExists, "table %s already has this entry", name)
	case op != p4v1.Update_INSERT && old == nil:
		return errorf(codes.NotFound, "table %s has no such entry", name)
	case op == p4v1.Update_INSERT && int64(len(entries)) >= t.GetSize():
		return errorf(codes.ResourceExhausted, "table %s is full (%d entries)", name, t.GetSize())
	}
	if op == p4v1.Update_DELETE {
		if err := p.uninstall(t, old); err != nil {
			return err
		}
		delete(entries, key)
		return nil
	}
	// Metadata is the controller's, kept and read back as written (spec
	// 9.1).
	ce := &p4v1.TableEntry{TableId: e.GetTableId(), Match: match, Priority: e.GetPriority(), Metadata: bytes.Clone(e.GetMetadata())}
	if ce.Action, err = p.tableAction(t, e.GetAction()); err != nil {
		return err
	}
	ce.ControllerMetadata = e.GetControllerMetadata() // so is controller_metadata
	if old != nil {
		if err := p.uninstall(t, old); err != nil {
			return err
		}
	}
	if err := p.install(t, ce); err != nil {
		if old != nil {
			_ = p.install(t, old) // put back what was there
		}
		return err
	}
	entries[key] = ce
	return nil
}

// tableAction validates the action of an entry: a direct action, or a
// member of the table's action profile.
func (p *Pipeline) tableAction(t *p4configv1.Table, a *p4v1.TableAction) (*p4v1.TableAction, error) {
	if t.GetImplementationId() != 0 {
		mid, ok := a.GetType().(*p4v1.TableAction_ActionProfileMemberId)
		if !ok {
			return nil, errorf(codes.InvalidArgument, "table %s takes an action-profile member", t.GetPreamble().GetName())
		}
		if p.store.members[mid.ActionProfileMemberId] == nil {
			return nil, errorf(codes.NotFound, "action-profile member %d does not exist", mid.ActionProfileMemberId)
		}
		return &p4v1.TableAction{Type: mid}, nil
	}
	da := a.GetAction()
	if da == nil {
		return nil, errorf(codes.InvalidArgument, "table %s takes a direct action", t.GetPreamble().GetName())
	}
	ca, err := p.action(t, da)
	if err != nil {
		return nil, err
	}
	return &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: ca}}, nil
}

func exactValue(e *p4v1.TableEntry, fieldID uint32) []byte {
	for _, m := range e.GetMatch() {
		if m.GetFieldId() == fieldID {
			return m.GetExact().GetValue()
		}
	}
	return nil
}

func paramValue(a *p4v1.Action, paramID uint32) []byte {
	for _, pa := range a.GetParams() {
		if pa.GetParamId() == paramID {
			return pa.GetValue()
		}
	}
	return nil
}

func (p *Pipeline) decodeSendToTM(a *p4v1.Action) *sendToTM {
	ids := p.ids.SendToTM
	s := &sendToTM{
		tmID: uint16(uintOf(paramValue(a, ids.TMID))),
		port: uint16(uintOf(paramValue(a, ids.Port))),
	}
	padded(s.mac[:], paramValue(a, ids.TMMAC))
	return s
}

// install puts a validated entry into the writer's lookup tables (p.t,
// whose parts the batch changes unshare has made its own).
func (p *Pipeline) install(t *p4configv1.Table, e *p4v1.TableEntry) error {
	ids := p.ids
	switch e.GetTableId() {
	case ids.GroupClassifier.Table:
		p.insertClassifier(e)
	case ids.PortRole.Table:
		port := uintOf(exactValue(e, ids.PortRole.IngressPort))
		p.t.portRoles[port] = PortRole(uintOf(paramValue(e.GetAction().GetAction(), ids.PortRole.Role)))
	case ids.TMAddressV4.Table:
		var k [4]byte
		padded(k[:], exactValue(e, ids.TMAddressV4.DstAddr))
		p.t.tmAddressV4[k] = p.decodeSendToTM(e.GetAction().GetAction())
		p.t.setMaybeTM(k[2:])
	case ids.TMAddressV6.Table:
		var k [16]byte
		padded(k[:], exactValue(e, ids.TMAddressV6.DstAddr))
		p.t.tmAddressV6[k] = p.decodeSendToTM(e.GetAction().GetAction())
		p.t.setMaybeTM(k[14:])
	case ids.BucketMask.Table:
		group := uint16(uintOf(exactValue(e, ids.BucketMask.GroupID)))
		p.setBucketMask(group, uint16(uintOf(paramValue(e.GetAction().GetAction(), ids.BucketMask.BucketMask))), true)
	case ids.DefaultTM.Table:
		group := uint16(uintOf(exactValue(e, ids.DefaultTM.GroupID)))
		p.t.defaultTM[group] = p.decodeSendToTM(e.GetAction().GetAction())
	case ids.L2Forward.Table:
		var mac [6]byte
		padded(mac[:], exactValue(e, ids.L2Forward.DstAddr))
		p.t.l2[macKey(mac[:])] = uint16(uintOf(paramValue(e.GetAction().GetAction(), ids.L2Forward.ForwardPort)))
	default:
		return errorf(codes.Unimplemented, "table %s is not modelled", t.GetPreamble().GetName())
	}
	return nil
}

// uninstall removes an entry from the writer's lookup tables.
func (p *Pipeline) uninstall(t *p4configv1.Table, e *p4v1.TableEntry) error {
	ids := p.ids
	switch e.GetTableId() {
	case ids.GroupClassifier.Table:
		p.removeClassifier(e)
	case ids.PortRole.Table:
		p.t.portRoles[uintOf(exactValue(e, ids.PortRole.IngressPort))] = RoleNone
	case ids.TMAddressV4.Table:
		var k [4]byte
		padded(k[:], exactValue(e, ids.TMAddressV4.DstAddr))
		delete(p.t.tmAddressV4, k)
		p.owned.maybeTMStale = true // rebuilt once, when the batch is published
	case ids.TMAddressV6.Table:
		var k [16]byte
		padded(k[:], exactValue(e, ids.TMAddressV6.DstAddr))
		delete(p.t.tmAddressV6, k)
		p.owned.maybeTMStale = true
	case ids.BucketMask.Table:
		p.setBucketMask(uint16(uintOf(exactValue(e, ids.BucketMask.GroupID))), 0, false)
	case ids.DefaultTM.Table:
		delete(p.t.defaultTM, uint16(uintOf(exactValue(e, ids.DefaultTM.GroupID))))
	case ids.L2Forward.Table:
		var mac [6]byte
		padded(mac[:], exactValue(e, ids.L2Forward.DstAddr))
		delete(p.t.l2, macKey(mac[:]))
	default:
		return errorf(codes.Unimplemented, "table %s is not modelled", t.GetPreamble().GetName())
	}
	return nil
}

// classifierRuleOf decodes a validated group_classifier entry.
func (p *Pipeline) classifierRuleOf(e *p4v1.TableEntry) classifierRule {
	ids := p.ids.GroupClassifier
	r := classifierRule{priority: e.GetPriority()}
	for _, m := range e.GetMatch() {
		v, mask := m.GetTernary().GetValue(), m.GetTernary().GetMask()
		switch m.GetFieldId() {
		case ids.VLANID:
			r.vlanValue, r.vlanMask = uint16(uintOf(v)), uint16(uintOf(mask))
		case ids.IPVersion:
			r.verValue, r.verMask = uint8(uintOf(v)), uint8(uintOf(mask))
		case ids.IPSrc:
			r.srcValue, r.srcMask = addr128Of(v), addr128Of(mask)
		case ids.IPDst:
			r.dstValue, r.dstMask = addr128Of(v), addr128Of(mask)
		case ids.IPProto:
			r.protoValue, r.protoMask = uint8(uintOf(v)), uint8(uintOf(mask))
		}
	}
	r.groupID = uint16(uintOf(paramValue(e.GetAction().GetAction(), ids.GroupID)))
	r.smallValue = smallKey(r.vlanValue, r.verValue, r.protoValue)
	r.smallMask = smallKey(r.vlanMask, r.verMask, r.protoMask)
	return r
}

// insertClassifier puts the rule of e in its place in the ordered list:
// a binary search and one copy, so a full table of 1,024 rules programs
// in well under a millisecond per entry. A list the published view still
// shares is not changed but copied with the rule in it; the batch then
// owns the copy and changes it in place.
func (p *Pipeline) insertClassifier(e *p4v1.TableEntry) {
	r := p.classifierRuleOf(e)
	old := p.t.classifier
	i, _ := slices.BinarySearchFunc(old, r, compareRules)
	if p.owned.classifier {
		p.t.classifier = slices.Insert(old, i, r)
		return
	}
	next := make([]classifierRule, 0, len(old)+1+len(old)/8)
	p.t.classifier = append(append(append(next, old[:i]...), r), old[i:]...)
	p.owned.classifier = true
}

// removeClassifier takes the rule of e out of the ordered list, copying a
// shared list as insertClassifier does.
func (p *Pipeline) removeClassifier(e *p4v1.TableEntry) {
	old := p.t.classifier
	i, ok := slices.BinarySearchFunc(old, p.classifierRuleOf(e), compareRules)
	switch {
	case !ok:
	case p.owned.classifier:
		p.t.classifier = slices.Delete(old, i, i+1)
	default:
		next := make([]classifierRule, 0, len(old))
		p.t.classifier = append(append(next, old[:i]...), old[i+1:]...)
		p.owned.classifier = true
	}
}

// rebuildMaybeTM recomputes the filter of TM addresses in the writer's
// copy, which unshare made its own.
func (t *tables) rebuildMaybeTM() {
	clear(t.maybeTM[:])
	for a := range t.tmAddressV4 {
		t.setMaybeTM(a[2:])
	}
	for a := range t.tmAddressV6 {
		t.setMaybeTM(a[14:])
	}
}

// addr128Of decodes a canonical bytestring of a bit<128> field.
func addr128Of(c []byte) addr128 {
	var b [16]byte
	padded(b[:], c)
	return addr128From(b[:])
}

func (p *Pipeline) writeMember(op p4v1.Update_Type, m *p4v1.ActionProfileMember) error {
	prof := p.schema.ActionProfiles[m.GetActionProfileId()]
	if prof == nil {
		return errorf(codes.InvalidArgument, "unknown action profile ID %d", m.GetActionProfileId())
	}
	if m.GetMemberId() == 0 {
		return errorf(codes.InvalidArgument, "member ID 0")
	}
	old := p.store.members[m.GetMemberId()]
	switch {
	case op == p4v1.Update_INSERT && old != nil:
		return errorf(codes.AlreadyExists, "member %d already exists", m.GetMemberId())
	case op != p4v1.Update_INSERT && old == nil:
		return errorf(codes.NotFound, "member %d does not exist", m.GetMemberId())
	case op == p4v1.Update_INSERT && int64(len(p.store.members)) >= prof.GetSize():
		return errorf(codes.ResourceExhausted, "action profile %s is full (%d members)", prof.GetPreamble().GetName(), prof.GetSize())
	case op == p4v1.Update_DELETE:
		if old.m.refs > 0 {
			return errorf(codes.FailedPrecondition, "member %d is still used by %d table entries", m.GetMemberId(), old.m.refs)
		}
		delete(p.store.members, m.GetMemberId())
		return nil
	}
	// The action must be one of the tables' that use this profile.
	var t *p4configv1.Table
	for _, tid := range prof.GetTableIds() {
		t = p.schema.Tables[tid]
	}
	if t == nil || m.GetAction() == nil {
		return errorf(codes.InvalidArgument, "member %d has no action", m.GetMemberId())
	}
	a, err := p.action(t, m.GetAction())
	if err != nil {
		return err
	}
	cm := &p4v1.ActionProfileMember{ActionProfileId: m.GetActionProfileId(), MemberId: m.GetMemberId(), Action: a}
	s := p.decodeSendToTM(a)
	if old != nil {
		old.proto = cm
		old.m.action.Store(s) // entries pointing at it follow
		return nil
	}
	p.store.members[m.GetMemberId()] = &storedMember{proto: cm, m: newMember(m.GetMemberId(), s)}
	return nil
}

func (p *Pipeline) writeMulticast(op p4v1.Update_Type, g *p4v1.MulticastGroupEntry) error {
	id := g.GetMulticastGroupId()
	if id == 0 {
		return errorf(codes.InvalidArgument, "multicast group ID 0")
	}
	old := p.store.mcast[id]
	switch {
	case op == p4v1.Update_INSERT && old != nil:
		return errorf(codes.AlreadyExists, "multicast group %d already exists", id)
	case op != p4v1.Update_INSERT && old == nil:
		return errorf(codes.NotFound, "multicast group %d does not exist", id)
	case op == p4v1.Update_DELETE:
		delete(p.store.mcast, id)
		delete(p.t.mcast, id)
		return nil
	}
	cg := &p4v1.MulticastGroupEntry{MulticastGroupId: id}
	var ports []uint16
	seen := map[[2]uint32]bool{}
	for _, r := range g.GetReplicas() {
		port := r.GetEgressPort()
		if b := r.GetPort(); b != nil {
			c, err := canonical(b, 9)
			if err != nil {
				return errorf(codes.InvalidArgument, "replica port: %v", err)
			}
			port = uint32(uintOf(c))
		}
		if port >= MaxPorts {
			return errorf(codes.InvalidArgument, "replica port %d out of range", port)
		}
		k := [2]uint32{port, r.GetInstance()}
		if seen[k] {
			return errorf(codes.InvalidArgument, "replica (port %d, instance %d) given twice", port, r.GetInstance())
		}
		seen[k] = true
		cg.Replicas = append(cg.Replicas, &p4v1.Replica{PortKind: &p4v1.Replica_EgressPort{EgressPort: port}, Instance: r.GetInstance()})
		ports = append(ports, uint16(port))
	}
	p.store.mcast[id] = cg
	p.t.mcast[id] = ports
	return nil
}
