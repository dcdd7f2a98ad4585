// SPDX-License-Identifier: Apache-2.0

package verify

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	"github.com/symdist/symdist/desired"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swmodel"
	"google.golang.org/protobuf/proto"
)

// Where Expect.Up came from.
const (
	UpFromController = "controller" // the controller's admin API: healthy and not drained
	UpFromHealth     = "health"     // one health check per TM, as configured
	UpFromBuckets    = "buckets"    // presumed: a TM is up when it holds buckets on some switch
)

// Expect is what the switches are held against.
type Expect struct {
	// Config of the deployment; nil: only the checks that need none
	// (buckets name existing members, mirror images, counters, the model).
	Config *config.Config
	// Up says which TMs take traffic, by name; nil: a TM is presumed up
	// when it holds buckets on some switch (UpFromBuckets).
	Up       map[string]bool
	UpSource string
	// Buckets are the intended bucket tables, owner TM name per bucket, by
	// group name (the controller's); a group missing: unknown.
	Buckets map[string][]string
}

// Problem is one way the switches differ from what they must hold.
type Problem struct {
	// Check names the rule broken: model, counters, mirror, buckets,
	// bucket_tm, bucket_owner, share, distributors_differ,
	// classifier_differs, port_roles, classifier, default_tm, tm_ports,
	// tm_addresses, l2, flood_ports, config (docs/verify.md).
	Check    string   `json:"check"`
	Switches []string `json:"switches"`
	Group    string   `json:"group,omitempty"`
	Bucket   *int     `json:"bucket,omitempty"`
	Message  string   `json:"message"`
}

// StateReport is the result of verify state.
type StateReport struct {
	UpSource string          `json:"up_source"`
	Switches []SwitchSummary `json:"switches"`
	Problems []Problem       `json:"problems"`
}

// SwitchSummary is what was read from one switch.
type SwitchSummary struct {
	Name         string         `json:"name"`
	Address      string         `json:"address"`
	DeviceID     uint64         `json:"device_id"`
	Entities     int            `json:"entities"`
	CounterCells int            `json:"counter_cells"`
	Groups       []GroupSummary `json:"groups"`
}

// GroupSummary is one group's bucket table on one switch.
type GroupSummary struct {
	ID        uint16         `json:"id"`
	Name      string         `json:"name,omitempty"`
	Buckets   int            `json:"buckets"`
	ByTM      map[string]int `json:"buckets_by_tm"`
	DefaultTM string         `json:"default_tm,omitempty"`
}

// held is one switch's state, decoded.
type held struct {
	snap     *Snapshot
	members  map[uint32]entries.TM     // member ID -> its send_to_tm
	buckets  map[uint16]map[int]uint32 // group ID -> bucket -> member ID
	defaults map[uint16]entries.TM     // group ID -> default TM
	rules    map[string]*p4v1.Entity   // group_classifier entries by Key
	cfg      *config.Switch            // nil without a config
}

// checker runs the checks over every switch read.
type checker struct {
	exp      Expect
	schema   *p4info.Schema
	ids      *p4info.IDs
	switches []*held
	up       map[string]bool // exp.Up, or presumed
	problems []Problem
}

func (c *checker) add(check string, switches []string, group string, bucket int, format string, args ...any) {
	p := Problem{Check: check, Switches: switches, Group: group, Message: fmt.Sprintf(format, args...)}
	if bucket >= 0 {
		b := bucket
		p.Bucket = &b
	}
	c.problems = append(c.problems, p)
}

func (c *checker) decodeTM(a *p4v1.Action) entries.TM {
	ids := c.ids.SendToTM
	var tm entries.TM
	for _, p := range a.GetParams() {
		switch p.GetParamId() {
		case ids.TMID:
			tm.ID = uint16(uintOf(p.GetValue()))
		case ids.Port:
			tm.Port = uint16(uintOf(p.GetValue()))
		case ids.TMMAC:
			tm.MAC = net.HardwareAddr(padTo(p.GetValue(), 6))
		}
	}
	return tm
}

func exactOf(te *p4v1.TableEntry, field uint32) uint64 {
	for _, m := range te.GetMatch() {
		if m.GetFieldId() == field {
			return uintOf(m.GetExact().GetValue())
		}
	}
	return 0
}

func (c *checker) decode(s *Snapshot) *held {
	h := &held{snap: s, members: map[uint32]entries.TM{}, buckets: map[uint16]map[int]uint32{},
		defaults: map[uint16]entries.TM{}, rules: map[string]*p4v1.Entity{}}
	ids := c.ids
	for _, e := range s.Entities {
		if m := e.GetActionProfileMember(); m != nil {
			h.members[m.GetMemberId()] = c.decodeTM(m.GetAction())
		}
		te := e.GetTableEntry()
		switch te.GetTableId() {
		case ids.BucketTable.Table:
			g := uint16(exactOf(te, ids.BucketTable.GroupID))
			if h.buckets[g] == nil {
				h.buckets[g] = map[int]uint32{}
			}
			h.buckets[g][int(exactOf(te, ids.BucketTable.Bucket))] = te.GetAction().GetActionProfileMemberId()
		case ids.DefaultTM.Table:
			h.defaults[uint16(exactOf(te, ids.DefaultTM.GroupID))] = c.decodeTM(te.GetAction().GetAction())
		case ids.GroupClassifier.Table:
			h.rules[entries.Key(e)] = e
		}
	}
	if cfg := c.exp.Config; cfg != nil {
		for i := range cfg.Switches {
			if cfg.Switches[i].Name == s.Name {
				h.cfg = &cfg.Switches[i]
			}
		}
	}
	return h
}

// tmByID is the configured TM with this ID, or nil.
func (c *checker) tmByID(id uint16) *config.TM {
	if c.exp.Config == nil {
		return nil
	}
	for i := range c.exp.Config.TMs {
		if c.exp.Config.TMs[i].ID == id {
			return &c.exp.Config.TMs[i]
		}
	}
	return nil
}

// tmName names a TM by its ID: the config's name, or "tm_id N".
func (c *checker) tmName(id uint16) string {
	if tm := c.tmByID(id); tm != nil {
		return tm.Name
	}
	return fmt.Sprintf("tm_id %d", id)
}

// owner names the TM of a bucket entry's member ("" for no entry).
func (h *held) owner(c *checker, group uint16, bucket int) string {
	m, ok := h.buckets[group][bucket]
	if !ok {
		return ""
	}
	tm, ok := h.members[m]
	if !ok {
		return fmt.Sprintf("member %d (missing)", m)
	}
	return c.tmName(tm.ID)
}

// group is a group checked: by config, or found in the state.
type group struct {
	id   uint16
	name string // the config's, or "group N"
}

func (c *checker) groups() []group {
	if cfg := c.exp.Config; cfg != nil {
		var gs []group
		for _, g := range cfg.Groups {
			gs = append(gs, group{g.ID, g.Name})
		}
		return gs
	}
	seen := map[uint16]bool{}
	for _, h := range c.switches {
		for id := range h.buckets {
			seen[id] = true
		}
		for id := range h.defaults {
			seen[id] = true
		}
	}
	var gs []group
	for id := range seen {
		gs = append(gs, group{id, fmt.Sprintf("group %d", id)})
	}
	slices.SortFunc(gs, func(a, b group) int { return int(a.id) - int(b.id) })
	return gs
}

func (c *checker) bucketCount() int {
	if c.exp.Config != nil {
		return c.exp.Config.Buckets
	}
	return swmodel.BucketCount
}

func newChecker(exp Expect, snaps []*Snapshot) *checker {
	schema := p4info.MustLoad()
	ids, _ := schema.Resolve()
	c := &checker{exp: exp, schema: schema, ids: ids}
	for _, s := range snaps {
		c.switches = append(c.switches, c.decode(s))
	}
	c.up = exp.Up
	if c.up == nil {
		c.exp.UpSource = UpFromBuckets
		c.up = c.presumedUp()
	} else if exp.UpSource == "" {
		c.exp.UpSource = UpFromController
	}
	return c
}

// Check holds the snapshots against exp. Snapshots are named as the
// config's switches when there is a config.
func Check(exp Expect, snaps []*Snapshot) *StateReport {
	c := newChecker(exp, snaps)
	for _, h := range c.switches {
		name := []string{h.snap.Name}
		// The model is a device of 9-bit ports: a switch whose ports are
		// translated (Stratum's singleton port ids) is not loaded into it.
		if !h.snap.Ports.Translated() {
			if _, err := Model(h.snap.Entities); err != nil {
				c.add("model", name, "", -1, "%v", err)
			}
		}
		if h.snap.CounterErr != "" {
			c.add("counters", name, "", -1, "counters cannot be read: %s", h.snap.CounterErr)
		}
		c.checkMirrors(h)
		for _, g := range c.groups() {
			c.checkBuckets(h, g)
		}
		if exp.Config != nil {
			c.checkConfigured(h)
		}
	}
	for _, h := range c.switches[min(1, len(c.switches)):] {
		c.compare(c.switches[0], h)
	}
	r := &StateReport{UpSource: c.exp.UpSource, Problems: c.problems}
	if r.Problems == nil {
		r.Problems = []Problem{}
	}
	for _, h := range c.switches {
		r.Switches = append(r.Switches, c.summary(h))
	}
	return r
}

// presumedUp: a TM is up when it holds a bucket on some switch, as the
// controller itself reads a table it adopts.
func (c *checker) presumedUp() map[string]bool {
	up := map[string]bool{}
	for _, h := range c.switches {
		for g, bs := range h.buckets {
			for b := range bs {
				if o := h.owner(c, g, b); o != "" {
					up[o] = true
				}
			}
		}
	}
	return up
}

// checkMirrors: every classifier rule has its mirror image (source and
// destination swapped) with the same priority and group.
func (c *checker) checkMirrors(h *held) {
	ids := c.ids.GroupClassifier
	keys := make([]string, 0, len(h.rules))
	for k := range h.rules {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e := h.rules[k]
		m := proto.Clone(e).(*p4v1.Entity)
		for _, f := range m.GetTableEntry().GetMatch() {
			switch f.GetFieldId() {
			case ids.IPSrc:
				f.FieldId = ids.IPDst
			case ids.IPDst:
				f.FieldId = ids.IPSrc
			}
		}
		entries.Canonicalize(m)
		if have, ok := h.rules[entries.Key(m)]; !ok || entries.Value(have) != entries.Value(e) {
			c.add("mirror", []string{h.snap.Name}, "", -1, "rule %s has no mirror image", describe(c.schema, e))
		}
	}
}

// ranges renders sorted ints as "0-5, 9".
func ranges(xs []int) string {
	var parts []string
	for i := 0; i < len(xs); {
		j := i
		for j+1 < len(xs) && xs[j+1] == xs[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprint(xs[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", xs[i], xs[j]))
		}
		i = j + 1
	}
	if len(parts) > 8 {
		parts = append(parts[:8], "...")
	}
	return strings.Join(parts, ", ")
}

// checkBuckets: every bucket of the group has an entry naming a member
// that exists, of a configured TM of the group that is up; it agrees with
// the intended table when one is known; each TM's share is within one
// bucket of its weight's.
func (c *checker) checkBuckets(h *held, g group) {
	name := []string{h.snap.Name}
	cfg := c.exp.Config
	var cg *config.Group
	if cfg != nil {
		cg = cfg.Group(g.name)
	}
	intended := c.exp.Buckets[g.name]
	// Is any TM of the group up (here)? Then every bucket needs an entry.
	anyUp := cfg == nil && len(h.buckets[g.id]) > 0
	if cfg != nil {
		for _, tm := range cfg.TMsOf(g.name) {
			anyUp = anyUp || hasPort(tm, h.snap.Name) && c.up[tm.Name]
		}
	}
	count := map[string]int{}
	var missing, beyond []int
	B := c.bucketCount()
	for b := range h.buckets[g.id] {
		if b >= B {
			beyond = append(beyond, b)
		}
	}
	for b := 0; b < B; b++ {
		m, ok := h.buckets[g.id][b]
		want := ""
		if intended != nil && b < len(intended) {
			want = intended[b]
		}
		if !ok {
			switch {
			case want != "" && cfg != nil && cfg.TM(want) != nil && !hasPort(cfg.TM(want), h.snap.Name):
				c.add("bucket_owner", name, g.name, b, "bucket %d has no entry; the controller's table names %s, which has no port on this switch (every switch must hold every bucket)", b, want)
			case want != "":
				c.add("bucket_owner", name, g.name, b, "bucket %d has no entry; the controller's table names %s", b, want)
			case anyUp && intended == nil:
				missing = append(missing, b)
			}
			continue
		}
		tm, ok := h.members[m]
		if !ok {
			c.add("bucket_tm", name, g.name, b, "bucket %d names member %d, which does not exist", b, m)
			continue
		}
		owner := c.tmName(tm.ID)
		count[owner]++
		if cfg != nil {
			ctm := c.tmByID(tm.ID)
			switch {
			case ctm == nil:
				c.add("bucket_tm", name, g.name, b, "bucket %d names tm_id %d, which the config does not have", b, tm.ID)
				continue
			case ctm.Group != g.name:
				c.add("bucket_tm", name, g.name, b, "bucket %d names %s, a TM of group %s", b, owner, ctm.Group)
				continue
			case !c.up[owner] && c.exp.UpSource != UpFromBuckets:
				c.add("bucket_tm", name, g.name, b, "bucket %d names %s, which is down (%s)", b, owner, c.exp.UpSource)
				continue
			}
		}
		if intended != nil && owner != want {
			if want == "" {
				want = "no TM"
			}
			c.add("bucket_owner", name, g.name, b, "bucket %d names %s; the controller's table names %s", b, owner, want)
		}
	}
	if len(missing) > 0 {
		c.add("buckets", name, g.name, -1, "%d of %d buckets have no entry: %s", len(missing), B, ranges(missing))
	}
	if len(beyond) > 0 {
		slices.Sort(beyond)
		c.add("buckets", name, g.name, -1, "%d entries for buckets beyond %d, which no packet hits: %s", len(beyond), B-1, ranges(beyond))
	}
	if cg != nil {
		c.checkShares(h, cg, count)
	}
}

// checkShares: each TM counted holds within one bucket of B * w / W, W
// the weights of the TMs counted: those up (when known) or those holding
// buckets, of the TMs with a port on this switch.
func (c *checker) checkShares(h *held, g *config.Group, count map[string]int) {
	var counted []*config.TM
	sum := 0
	for _, tm := range c.exp.Config.TMsOf(g.Name) {
		if !hasPort(tm, h.snap.Name) {
			continue
		}
		if c.exp.UpSource == UpFromBuckets && count[tm.Name] > 0 || c.exp.UpSource != UpFromBuckets && c.up[tm.Name] {
			counted = append(counted, tm)
			sum += tm.Weight
		}
	}
	held := 0
	for _, tm := range counted {
		held += count[tm.Name]
	}
	for _, tm := range counted {
		// |count - held*w/sum| <= 1, in integers.
		d := count[tm.Name]*sum - held*tm.Weight
		if d > sum || -d > sum {
			c.add("share", []string{h.snap.Name}, g.Name, -1, "%s holds %d of %d buckets; its weight %d of %d gives %.1f (within 1)",
				tm.Name, count[tm.Name], held, tm.Weight, sum, float64(held*tm.Weight)/float64(sum))
		}
	}
}

// checkName maps the tables and other entities to the checks that cover
// them when they differ from the config.
func (c *checker) checkName(e *p4v1.Entity) string {
	ids := c.ids
	switch e.GetTableEntry().GetTableId() {
	case ids.PortRole.Table:
		return "port_roles"
	case ids.GroupClassifier.Table:
		return "classifier"
	case ids.DefaultTM.Table:
		return "default_tm"
	case ids.TMAddressV4.Table, ids.TMAddressV6.Table:
		return "tm_addresses"
	case ids.L2Forward.Table:
		return "l2"
	case 0:
		if e.GetActionProfileMember() != nil {
			return "tm_ports"
		}
		return "flood_ports"
	}
	return "other"
}

// checkConfigured: everything but the bucket table as the config (and
// the up TMs, for the default TMs) says.
func (c *checker) checkConfigured(h *held) {
	if h.cfg == nil {
		c.add("config", []string{h.snap.Name}, "", -1, "the config has no switch %s", h.snap.Name)
		return
	}
	want, err := desired.Expected(c.exp.Config, h.cfg.Name, nil, c.up)
	if err != nil {
		c.add("config", []string{h.snap.Name}, "", -1, "%v", err)
		return
	}
	isBucket := func(e *p4v1.Entity) bool { return e.GetTableEntry().GetTableId() == c.ids.BucketTable.Table }
	have := slices.DeleteFunc(slices.Clone(h.snap.Entities), isBucket)
	// An entry's metadata is the operator's intent the controller keeps
	// in the switches (a drain, controller/intent.go), not configuration.
	for i, e := range have {
		if te := e.GetTableEntry(); te != nil && len(te.GetMetadata()) > 0 {
			e = proto.Clone(e).(*p4v1.Entity)
			e.GetTableEntry().Metadata = nil
			have[i] = e
		}
	}
	name := []string{h.snap.Name}
	for _, d := range diffState(have, slices.DeleteFunc(want, isBucket)) {
		check := c.checkName(cmp.Or(d.want, d.have))
		switch {
		case d.have == nil:
			c.add(check, name, "", -1, "missing: %s", describe(c.schema, d.want))
		case d.want == nil:
			c.add(check, name, "", -1, "not in the config: %s", describe(c.schema, d.have))
		default:
			c.add(check, name, "", -1, "holds %s; the config wants %s", describe(c.schema, d.have), describe(c.schema, d.want))
		}
	}
}

// entityDiff is one entity that differs between what a switch holds and
// what it must hold: have nil when it is missing, want nil when it is
// extra.
type entityDiff struct{ have, want *p4v1.Entity }

// diffState compares two canonical entity lists by key and value, in key
// order.
func diffState(have, want []*p4v1.Entity) []entityDiff {
	byKey := map[string]*entityDiff{}
	for _, e := range have {
		byKey[entries.Key(e)] = &entityDiff{have: e}
	}
	for _, e := range want {
		k := entries.Key(e)
		if d := byKey[k]; d != nil {
			d.want = e
		} else {
			byKey[k] = &entityDiff{want: e}
		}
	}
	var out []entityDiff
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		d := byKey[k]
		if d.have == nil || d.want == nil || entries.Value(d.have) != entries.Value(d.want) {
			out = append(out, *d)
		}
	}
	return out
}

// compare: two distributors hold the same bucket tables and classifier
// rules. A bucket with an entry on one and none on the other differs,
// whatever the config says: the packets of one direction would find the
// TM and those of the other would not, so their flows lose symmetry.
func (c *checker) compare(a, b *held) {
	names := []string{a.snap.Name, b.snap.Name}
	for _, g := range c.groups() {
		for bucket := 0; bucket < c.bucketCount(); bucket++ {
			oa, ob := a.owner(c, g.id, bucket), b.owner(c, g.id, bucket)
			if oa == ob {
				continue
			}
			c.add("distributors_differ", names, g.name, bucket, "bucket %d: %s names %s, %s names %s",
				bucket, a.snap.Name, orNone(oa), b.snap.Name, orNone(ob))
		}
	}
	for _, pair := range [][2]*held{{a, b}, {b, a}} {
		keys := make([]string, 0, len(pair[0].rules))
		for k := range pair[0].rules {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			e := pair[0].rules[k]
			if o, ok := pair[1].rules[k]; !ok || entries.Value(o) != entries.Value(e) {
				c.add("classifier_differs", names, "", -1, "rule %s is on %s, not on %s", describe(c.schema, e), pair[0].snap.Name, pair[1].snap.Name)
			}
		}
	}
}

func hasPort(tm *config.TM, sw string) bool {
	_, ok := tm.Ports[sw]
	return ok
}

func orNone(s string) string {
	if s == "" {
		return "no TM (no entry)"
	}
	return s
}

func (c *checker) summary(h *held) SwitchSummary {
	s := SwitchSummary{Name: h.snap.Name, Address: h.snap.Address, DeviceID: h.snap.DeviceID,
		Entities: len(h.snap.Entities), CounterCells: len(h.snap.Counters)}
	for _, g := range c.groups() {
		gs := GroupSummary{ID: g.id, Name: g.name, ByTM: map[string]int{}}
		for b := range h.buckets[g.id] {
			gs.Buckets++
			gs.ByTM[h.owner(c, g.id, b)]++
		}
		if d, ok := h.defaults[g.id]; ok {
			gs.DefaultTM = c.tmName(d.ID)
		}
		s.Groups = append(s.Groups, gs)
	}
	return s
}
