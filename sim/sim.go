// SPDX-License-Identifier: Apache-2.0

// Package sim simulates how symdist distributes flows over TMs, at scale,
// against four baselines on the same flows: plain ECMP (hash mod N), a
// bmv2 action selector programmed through PI, Maglev hashing and weighted
// rendezvous hashing. See README.md.
//
// Flows are random connections (contract.Key of real key bytes, hashed by
// contract.Hash); only the 32-bit hash of each is kept. symdist's bucket
// tables are the controller's own (package assign).
package sim

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/symdist/symdist/assign"
	"github.com/symdist/symdist/contract"
)

// Config is a simulation.
type Config struct {
	Flows   int            // M, the flows (at least 1)
	TMs     int            // N, the TMs tm1..tmN at the start
	Groups  int            // G: TM tmk is in group (k-1) mod G; the flows are split evenly
	Buckets int            // B, symdist's bucket count per group (a power of two)
	Weights map[string]int // initial weights; absent TMs weigh 1
	Events  []Event        // the steps after the initial one
	Seed    uint64         // the flows and nothing else depend on it
	IPv6    float64        // fraction of flows over IPv6 (0-1)

	MaglevSize int   // Maglev's M, a prime (0: 65537)
	Sweep      []int // bucket counts for the imbalance-vs-B sweep (none when empty)
	// TMSweep and TMSweepBuckets: TM counts and bucket counts of the table
	// imbalance-vs-N sweep (none when TMSweep is empty).
	TMSweep, TMSweepBuckets []int
	Workers                 int // goroutines (0: GOMAXPROCS)

	// Progress, if not nil, is called from the calling goroutine every
	// tenth of a second or so during long stages, and at the end of each.
	Progress func(stage string, done, total int64)
}

// MaxFlows bounds Config.Flows: the simulation keeps 8 bytes per flow.
const MaxFlows = 1 << 30

// MaxTMs bounds Config.TMs.
const MaxTMs = 100000

// Validate checks the configuration, the events included (each against
// the TMs as the earlier events leave them).
func (c *Config) Validate() error {
	switch {
	case c.Flows < 1 || c.Flows > MaxFlows:
		return fmt.Errorf("flows %d: want 1 to %d", c.Flows, MaxFlows)
	case c.TMs < 1 || c.TMs > MaxTMs:
		return fmt.Errorf("tms %d: want 1 to %d", c.TMs, MaxTMs)
	case c.Groups < 1 || c.Groups > c.TMs:
		return fmt.Errorf("groups %d: want 1 to the number of TMs (%d); each group needs a TM", c.Groups, c.TMs)
	case !contract.IsPowerOfTwo(c.Buckets) || c.Buckets > assign.MaxBuckets:
		return fmt.Errorf("buckets %d: want a power of two from 1 to %d", c.Buckets, assign.MaxBuckets)
	case c.IPv6 < 0 || c.IPv6 > 1 || math.IsNaN(c.IPv6):
		return fmt.Errorf("ipv6 fraction %v: want 0 to 1", c.IPv6)
	case c.Flows < c.Groups:
		return fmt.Errorf("flows %d: fewer than the groups (%d)", c.Flows, c.Groups)
	}
	m := c.maglevSize()
	if !IsPrime(m) {
		return fmt.Errorf("maglev size %d is not prime (65537 is)", m)
	}
	for name, w := range c.Weights {
		if k := tmNumber(name); k < 1 || k > c.TMs {
			return fmt.Errorf("weight of unknown TM %q (the TMs are tm1..tm%d)", name, c.TMs)
		}
		if w < 1 || w > MaxWeight {
			return fmt.Errorf("weight of %s is %d: want 1 to %d", name, w, MaxWeight)
		}
	}
	for _, b := range slices.Concat(c.Sweep, c.TMSweepBuckets) {
		if !contract.IsPowerOfTwo(b) || b > assign.MaxBuckets {
			return fmt.Errorf("sweep: bucket count %d is not a power of two from 1 to %d", b, assign.MaxBuckets)
		}
	}
	for _, n := range c.TMSweep {
		if n < 1 || n > MaxTMs {
			return fmt.Errorf("TM sweep: %d TMs: want 1 to %d", n, MaxTMs)
		}
	}
	if len(c.TMSweep) > 0 && len(c.TMSweepBuckets) == 0 {
		return fmt.Errorf("TM sweep: no bucket counts")
	}
	// Play the events on the names.
	type st struct {
		present, up bool
		weight      int
	}
	tms := make(map[string]*st)
	size := make([]int, c.Groups)
	for k := 1; k <= c.TMs; k++ {
		tms[TMName(k)] = &st{present: true, up: true, weight: c.weight(TMName(k))}
		size[GroupOf(k, c.Groups)]++
	}
	for i, ev := range c.Events {
		t := tms[ev.TM]
		known := t != nil && t.present
		where := fmt.Sprintf("event %d (%s)", i+1, ev)
		switch ev.Kind {
		case Fail, Recover, Remove, Weight:
			if !known {
				return fmt.Errorf("%s: unknown TM %q%s", where, ev.TM, c.tmHint(t != nil))
			}
		}
		switch ev.Kind {
		case Fail:
			if !t.up {
				return fmt.Errorf("%s: %s is already down", where, ev.TM)
			}
			t.up = false
		case Recover:
			if t.up {
				return fmt.Errorf("%s: %s is not down", where, ev.TM)
			}
			t.up = true
		case Remove:
			t.present = false
			size[GroupOf(tmNumber(ev.TM), c.Groups)]--
		case Weight:
			if ev.Weight < 1 || ev.Weight > MaxWeight {
				return fmt.Errorf("%s: weight %d: want 1 to %d", where, ev.Weight, MaxWeight)
			}
			if ev.Weight == t.weight {
				return fmt.Errorf("%s: %s already has weight %d", where, ev.TM, ev.Weight)
			}
			t.weight = ev.Weight
		case Add:
			if known {
				return fmt.Errorf("%s: %s is already configured", where, ev.TM)
			}
			k := tmNumber(ev.TM)
			if k < 1 {
				return fmt.Errorf("%s: an added TM must be named tmK (K >= 1), which puts it in group (K-1) mod %d", where, c.Groups)
			}
			w := ev.Weight
			if w == 0 {
				w = 1
			}
			if w < 1 || w > MaxWeight {
				return fmt.Errorf("%s: weight %d: want 1 to %d", where, w, MaxWeight)
			}
			tms[ev.TM] = &st{present: true, up: true, weight: w}
			g := GroupOf(k, c.Groups)
			size[g]++
			if size[g] > m {
				return fmt.Errorf("%s: group %d would have %d TMs, more than the Maglev table size %d", where, g, size[g], m)
			}
		default:
			return fmt.Errorf("%s: unknown kind %q", where, ev.Kind)
		}
	}
	for g, n := range size {
		if n > m {
			return fmt.Errorf("group %d has %d TMs, more than the Maglev table size %d", g, n, m)
		}
	}
	return nil
}

func (c *Config) tmHint(removed bool) string {
	if removed {
		return " (it was removed)"
	}
	return fmt.Sprintf(" (the TMs are tm1..tm%d and those added by earlier events)", c.TMs)
}

func (c *Config) maglevSize() int {
	if c.MaglevSize == 0 {
		return DefaultMaglevSize
	}
	return c.MaglevSize
}

func (c *Config) weight(name string) int {
	if w, ok := c.Weights[name]; ok {
		return w
	}
	return 1
}

// The schemes, in the order of Result.Schemes and of every per-scheme list.
const (
	schSymdist = iota
	schModN
	schBmv2
	schMaglev
	schRendezvous
	numSchemes
	numTable = schRendezvous // the schemes that are a lookup table
)

// SchemeInfo names and describes a scheme.
type SchemeInfo struct {
	Name   string `json:"name"`
	About  string `json:"about"`
	Writes string `json:"writes"` // what the writes of a step count
}

// Schemes describes the simulated schemes.
var Schemes = [numSchemes]SchemeInfo{
	{"symdist", "bucket table of B entries per group, kept by the controller's assign package; bucket = crc32 mod B",
		"bucket-table entries rewritten (buckets whose owner changed)"},
	{"mod-n", "plain ECMP: crc32 mod (number of up TMs) over the up TMs in configuration order; ignores weights",
		"positions of the ECMP member list whose TM changed"},
	{"bmv2-selector", "bmv2 action selector as PI programs it: crc32 mod (active member copies), copies in handle order; weight w = w copies",
		"target operations: member create/delete, group add/remove, activate/deactivate"},
	{"maglev", "Maglev lookup table (NSDI 2016, sec. 3.4) of M entries, Envoy's weighted turns; entry = crc32 mod M",
		"lookup-table entries changed"},
	{"rendezvous", "weighted rendezvous (HRW) hashing, score -w/ln(u); no table",
		"none (no table: only the node list changes)"},
}

// SchemeStep is one scheme after one step.
type SchemeStep struct {
	Scheme string `json:"scheme"`
	// Imbalance is the largest load of an up TM over its fair share, the
	// fair share of a TM of weight w in a group of F flows whose up TMs
	// weigh W being F*w/W: max/mean flows per TM when weights are equal.
	Imbalance float64 `json:"imbalance"`
	// MinAccuracy is the smallest load over fair share (weight accuracy:
	// share of flows / (w / sum w)); Imbalance is the largest.
	MinAccuracy float64 `json:"min_accuracy"`
	// Moved is the flows whose TM changed at this step; MovedFraction the
	// same over all flows.
	Moved         int64   `json:"moved"`
	MovedFraction float64 `json:"moved_fraction"`
	// Ideal is the fewest flows this scheme could have moved, given its
	// loads: a TM going down or removed, its flows before; a TM coming up
	// or added, its flows after; a weight change, the change of the TM's
	// flows. MovedOverIdeal is Moved/Ideal (0 when Ideal is 0).
	Ideal          int64   `json:"ideal"`
	MovedOverIdeal float64 `json:"moved_over_ideal"`
	Writes         int     `json:"writes"` // see SchemeInfo.Writes
	// Displaced is the flows on another TM than at step 0. The schemes
	// that are a function of the up TMs (all but symdist) come back to
	// their step-0 table when the TMs do; symdist's tables depend on the
	// history, so after fail:X,recover:X X holds as many buckets as before
	// but not the same ones.
	Displaced int64 `json:"displaced"`
	// Flows and Accuracy are per TM, indexed like Result.TMNames; a TM
	// that is not up has accuracy 0.
	Flows    []int64   `json:"flows"`
	Accuracy []float64 `json:"accuracy"`
}

// Step is the state after an event (step 0: the initial state).
type Step struct {
	Index int    `json:"index"`
	Event string `json:"event"` // "initial" for step 0
	Group int    `json:"group"` // the group the event concerns; -1 for step 0
	// FairIdeal is the flows that must move with perfectly fair shares: the
	// fair share of the TM that goes (before) or comes (after), or the
	// change of its fair share.
	FairIdeal float64      `json:"fair_ideal"`
	Weights   []int        `json:"weights"` // per TM; 0: not configured
	Up        []bool       `json:"up"`      // per TM
	Schemes   []SchemeStep `json:"schemes"`
}

// Result is a simulation's outcome.
type Result struct {
	Flows      int          `json:"flows"`
	TMs        int          `json:"tms"`
	Groups     int          `json:"groups"`
	Buckets    int          `json:"buckets"`
	MaglevSize int          `json:"maglev_size"`
	Seed       uint64       `json:"seed"`
	IPv6       float64      `json:"ipv6_fraction"`
	Schemes    []SchemeInfo `json:"schemes"`
	TMNames    []string     `json:"tm_names"`
	TMGroups   []int        `json:"tm_groups"`
	GroupFlows []int        `json:"group_flows"`
	Steps      []Step       `json:"steps"`
	Sweep      *Sweep       `json:"sweep,omitempty"`
	TMSweep    *TMSweep     `json:"tm_sweep,omitempty"`
	Seconds    float64      `json:"seconds"`
	Workers    int          `json:"workers"`
}

type tmState struct {
	name    string
	group   int
	weight  int
	up      bool
	present bool
	seed    uint64 // rendezvous seed
}

type span struct{ lo, hi int }

// lut is a lookup table: a flow of hash h goes to tab[h mod len(tab)].
type lut struct {
	tab  []int32
	n    uint32
	mask uint32
	pow2 bool
}

func newLut(tab []int32) lut {
	if len(tab) == 0 {
		tab = []int32{-1}
	}
	n := uint32(len(tab))
	return lut{tab: tab, n: n, mask: n - 1, pow2: n&(n-1) == 0}
}

func (l *lut) at(h uint32) int32 {
	if l.pow2 {
		return l.tab[h&l.mask]
	}
	return l.tab[h%l.n]
}

type simulator struct {
	cfg     Config
	workers int
	hashes  []uint32
	spans   []span
	tms     []tmState
	byName  map[string]int32

	sym  []*assign.Table
	sel  *Selector
	mag  []*Maglev
	modn [][]int32
	rv   []*Rendezvous
	luts [numTable][]lut

	rvOwner []int32
	counts  [numSchemes][]int64

	// The initial state, for the flows displaced since: the tables of
	// step 0, the rendezvous owners of step 0, and per scheme and group
	// the flows on another TM than at step 0.
	initLuts  [numTable][]lut
	rvInit    []int32
	displaced [numSchemes][]int64
}

// Simulate runs a simulation.
func Simulate(cfg Config) (*Result, error) {
	res, _, err := simulate(cfg)
	return res, err
}

// simulate runs a simulation and returns the simulator too, for tests.
func simulate(cfg Config) (*Result, *simulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	start := time.Now()
	s := &simulator{cfg: cfg, workers: cfg.Workers, byName: make(map[string]int32)}
	if s.workers <= 0 {
		s.workers = runtime.GOMAXPROCS(0)
	}
	s.stage("flows", int64(cfg.Flows), func(done *atomic.Int64) {
		s.hashes = GenerateHashes(cfg.Seed, cfg.Flows, cfg.IPv6, s.workers, done)
	})
	s.spans = make([]span, cfg.Groups)
	for g := range s.spans {
		s.spans[g] = span{cfg.Flows * g / cfg.Groups, cfg.Flows * (g + 1) / cfg.Groups}
	}
	for k := 1; k <= cfg.TMs; k++ {
		s.addTM(TMName(k), cfg.weight(TMName(k)))
	}
	s.rvOwner = make([]int32, cfg.Flows)
	res := &Result{
		Flows: cfg.Flows, TMs: cfg.TMs, Groups: cfg.Groups, Buckets: cfg.Buckets,
		MaglevSize: cfg.maglevSize(), Seed: cfg.Seed, IPv6: cfg.IPv6,
		Schemes: Schemes[:], Workers: s.workers,
	}
	for g := range s.spans {
		res.GroupFlows = append(res.GroupFlows, s.spans[g].hi-s.spans[g].lo)
	}
	st, err := s.initial()
	if err != nil {
		return nil, nil, err
	}
	res.Steps = append(res.Steps, st)
	for i, ev := range cfg.Events {
		st, err := s.apply(i+1, ev)
		if err != nil {
			return nil, nil, fmt.Errorf("event %d (%s): %w", i+1, ev, err)
		}
		res.Steps = append(res.Steps, st)
	}
	for _, t := range s.tms {
		res.TMNames = append(res.TMNames, t.name)
		res.TMGroups = append(res.TMGroups, t.group)
	}
	if len(cfg.Sweep) > 0 {
		sw, err := s.sweep(&res.Steps[0])
		if err != nil {
			return nil, nil, err
		}
		res.Sweep = sw
	}
	if len(cfg.TMSweep) > 0 {
		if res.TMSweep, err = SweepTMs(cfg.TMSweep, cfg.TMSweepBuckets); err != nil {
			return nil, nil, err
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, s, nil
}

// stage runs f, reporting its progress.
func (s *simulator) stage(name string, total int64, f func(done *atomic.Int64)) {
	var done atomic.Int64
	if s.cfg.Progress == nil {
		f(&done)
		return
	}
	fin := make(chan struct{})
	go func() {
		defer close(fin)
		f(&done)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-fin:
			s.cfg.Progress(name, total, total)
			return
		case <-tick.C:
			s.cfg.Progress(name, done.Load(), total)
		}
	}
}

func (s *simulator) addTM(name string, w int) int32 {
	k := tmNumber(name)
	if id, ok := s.byName[name]; ok {
		t := &s.tms[id]
		t.present, t.up, t.weight = true, true, w
		return id
	}
	id := int32(len(s.tms))
	s.tms = append(s.tms, tmState{name: name, group: GroupOf(k, s.cfg.Groups), weight: w, up: true, present: true, seed: rvSeed(name)})
	s.byName[name] = id
	for i := range s.counts {
		s.counts[i] = append(s.counts[i], 0)
	}
	return id
}

// members returns the TMs of group g: those configured, or only those up.
func (s *simulator) members(g int, upOnly bool) []int32 {
	var ids []int32
	for id, t := range s.tms {
		if t.group == g && t.present && (t.up || !upOnly) {
			ids = append(ids, int32(id))
		}
	}
	return ids
}

func (s *simulator) upNodes(g int) []Node {
	var ns []Node
	for _, id := range s.members(g, true) {
		t := s.tms[id]
		ns = append(ns, Node{ID: id, Name: t.name, Weight: t.weight})
	}
	return ns
}

func (s *simulator) assignTMs(g int) []assign.TM {
	var l []assign.TM
	for _, id := range s.members(g, false) {
		t := s.tms[id]
		l = append(l, assign.TM{Name: t.name, Weight: t.weight, Up: t.up})
	}
	return l
}

func (s *simulator) symLut(g int) []int32 {
	tab := make([]int32, len(s.sym[g].Buckets))
	for b, name := range s.sym[g].Buckets {
		tab[b] = -1
		if name != "" {
			tab[b] = s.byName[name]
		}
	}
	return tab
}

// rebuild recomputes the lookup tables of group g other than symdist's and
// the selector's, and returns their writes.
func (s *simulator) rebuild(g int) (modnW, magW int, err error) {
	up := s.members(g, true)
	modnW = changedEntries(s.modn[g], up)
	s.modn[g] = up
	s.luts[schModN][g] = newLut(up)
	m, err := NewMaglev(s.cfg.maglevSize(), s.upNodes(g))
	if err != nil {
		return 0, 0, err
	}
	if s.mag[g] != nil {
		magW = changedEntries(s.mag[g].Entry, m.Entry)
	} else {
		magW = len(m.Entry)
	}
	s.mag[g] = m
	s.luts[schMaglev][g] = newLut(m.Entry)
	s.rv[g] = NewRendezvous(s.upNodes(g))
	return modnW, magW, nil
}

func (s *simulator) initial() (Step, error) {
	G := s.cfg.Groups
	s.sym = make([]*assign.Table, G)
	s.mag = make([]*Maglev, G)
	s.modn = make([][]int32, G)
	s.rv = make([]*Rendezvous, G)
	for k := range s.luts {
		s.luts[k] = make([]lut, G)
	}
	s.sel = NewSelector()
	var writes [numSchemes]int
	for id := range s.tms {
		n, err := s.sel.CreateMember(int32(id), s.tms[id].group)
		if err != nil {
			return Step{}, err
		}
		writes[schBmv2] += n
	}
	for g := range G {
		t, err := assign.New(s.cfg.Buckets, s.assignTMs(g))
		if err != nil {
			return Step{}, err
		}
		s.sym[g] = t
		s.luts[schSymdist][g] = newLut(s.symLut(g))
		writes[schSymdist] += len(t.Buckets)
		for _, id := range s.members(g, false) {
			n, err := s.sel.SetWeight(id, s.tms[id].weight)
			if err != nil {
				return Step{}, err
			}
			writes[schBmv2] += n
		}
		s.luts[schBmv2][g] = newLut(s.sel.Lookup(g))
		mw, gw, err := s.rebuild(g)
		if err != nil {
			return Step{}, err
		}
		writes[schModN] += mw
		writes[schMaglev] += gw
	}
	for g := range G {
		s.scan(fmt.Sprintf("initial: group %d/%d", g+1, G), g, scanJob{rvMode: rvInit, rvNew: s.rv[g]})
	}
	for k := range s.luts {
		s.initLuts[k] = slices.Clone(s.luts[k])
	}
	s.rvInit = slices.Clone(s.rvOwner)
	for k := range s.displaced {
		s.displaced[k] = make([]int64, G)
	}
	st := s.metrics(0, "initial", -1, writes)
	return st, nil
}

// change is what an event did to its TM, for the ideals.
type change struct {
	id                int32
	upBefore, upAfter bool
	wBefore, wAfter   int
	before            [numSchemes]int64 // the TM's flows before
}

func (s *simulator) apply(index int, ev Event) (Step, error) {
	var id int32
	if ev.Kind == Add {
		w := max(ev.Weight, 1)
		if old, ok := s.byName[ev.TM]; ok {
			id = old
			s.tms[id].weight = 0
		} else {
			id = s.addTM(ev.TM, w)
			s.tms[id].present, s.tms[id].up, s.tms[id].weight = false, false, 0
		}
	} else {
		id = s.byName[ev.TM]
	}
	t := &s.tms[id]
	g := t.group
	ch := change{id: id, upBefore: t.present && t.up, wBefore: t.weight}
	for k := range ch.before {
		ch.before[k] = s.counts[k][id]
	}
	var writes [numSchemes]int
	var err error
	var n int
	rvMode := rvNone
	switch ev.Kind {
	case Fail:
		t.up = false
		n, err = s.sel.SetActive(id, false)
		rvMode = rvLose
	case Recover:
		t.up = true
		n, err = s.sel.SetActive(id, true)
		rvMode = rvGain
	case Remove:
		t.present = false
		n, err = s.sel.DeleteMember(id)
		if ch.upBefore {
			rvMode = rvLose
		}
	case Add:
		t.present, t.up, t.weight = true, true, max(ev.Weight, 1)
		n, err = s.sel.CreateMember(id, g)
		if err == nil {
			var m int
			m, err = s.sel.SetWeight(id, t.weight)
			n += m
		}
		rvMode = rvGain
	case Weight:
		t.weight = ev.Weight
		n, err = s.sel.SetWeight(id, t.weight)
		if t.up {
			rvMode = rvLose
			if t.weight > ch.wBefore {
				rvMode = rvGain
			}
		}
	}
	if err != nil {
		return Step{}, err
	}
	writes[schBmv2] = n
	ch.upAfter = t.present && t.up
	ch.wAfter = t.weight
	if !t.present {
		ch.wAfter = 0
	}

	old := [numTable]lut{}
	for k := range old {
		old[k] = s.luts[k][g]
	}
	moved, err := s.sym[g].Apply(s.assignTMs(g))
	if err != nil {
		return Step{}, err
	}
	writes[schSymdist] = len(moved)
	s.luts[schSymdist][g] = newLut(s.symLut(g))
	s.luts[schBmv2][g] = newLut(s.sel.Lookup(g))
	writes[schModN], writes[schMaglev], err = s.rebuild(g)
	if err != nil {
		return Step{}, err
	}
	job := scanJob{old: old, hasOld: true, rvMode: rvMode, rvNew: s.rv[g],
		x: rvCand{id: id, w: t.weight}, xSeed: t.seed}
	mv, disp := s.scan(fmt.Sprintf("step %d/%d %s", index, len(s.cfg.Events), ev), g, job)
	st := s.metrics(index, ev.String(), g, writes)
	for k := range st.Schemes {
		sc := &st.Schemes[k]
		sc.Moved = mv[k]
		sc.MovedFraction = float64(mv[k]) / float64(s.cfg.Flows)
		s.displaced[k][g] = disp[k]
		for _, d := range s.displaced[k] {
			sc.Displaced += d
		}
	}
	s.ideals(&st, &ch)
	return st, nil
}

// metrics fills a step's loads, imbalance and accuracy from s.counts.
func (s *simulator) metrics(index int, event string, g int, writes [numSchemes]int) Step {
	st := Step{Index: index, Event: event, Group: g}
	fair := make([]float64, len(s.tms))
	W := make([]int64, s.cfg.Groups)
	for _, t := range s.tms {
		if t.present && t.up {
			W[t.group] += int64(t.weight)
		}
	}
	for id, t := range s.tms {
		w := 0
		if t.present {
			w = t.weight
		}
		st.Weights = append(st.Weights, w)
		st.Up = append(st.Up, t.present && t.up)
		if t.present && t.up {
			sp := s.spans[t.group]
			fair[id] = float64(sp.hi-sp.lo) * float64(t.weight) / float64(W[t.group])
		}
	}
	for k := range numSchemes {
		sc := SchemeStep{Scheme: Schemes[k].Name, Writes: writes[k], MinAccuracy: math.Inf(1)}
		sc.Flows = slices.Clone(s.counts[k])
		sc.Accuracy = make([]float64, len(s.tms))
		for id := range s.tms {
			if fair[id] == 0 {
				continue
			}
			a := float64(s.counts[k][id]) / fair[id]
			sc.Accuracy[id] = a
			sc.Imbalance = max(sc.Imbalance, a)
			sc.MinAccuracy = min(sc.MinAccuracy, a)
		}
		if math.IsInf(sc.MinAccuracy, 1) {
			sc.MinAccuracy = 0
		}
		st.Schemes = append(st.Schemes, sc)
	}
	return st
}

// ideals fills the ideal flows moved of a step.
func (s *simulator) ideals(st *Step, ch *change) {
	t := s.tms[ch.id]
	sp := s.spans[t.group]
	F := float64(sp.hi - sp.lo)
	var wb, wa int64 // up weight of the group before and after
	for id, u := range s.tms {
		if u.group != t.group {
			continue
		}
		if u.present && u.up {
			wa += int64(u.weight)
		}
		if int32(id) != ch.id && u.present && u.up {
			wb += int64(u.weight)
		}
	}
	if ch.upBefore {
		wb += int64(ch.wBefore)
	}
	fairB, fairA := 0.0, 0.0
	if ch.upBefore {
		fairB = F * float64(ch.wBefore) / float64(wb)
	}
	if ch.upAfter {
		fairA = F * float64(ch.wAfter) / float64(wa)
	}
	st.FairIdeal = math.Abs(fairA - fairB)
	for k := range st.Schemes {
		sc := &st.Schemes[k]
		before := int64(0)
		if ch.upBefore {
			before = ch.before[k]
		}
		after := int64(0)
		if ch.upAfter {
			after = s.counts[k][ch.id]
		}
		sc.Ideal = after - before
		if sc.Ideal < 0 {
			sc.Ideal = -sc.Ideal
		}
		if sc.Ideal > 0 {
			sc.MovedOverIdeal = float64(sc.Moved) / float64(sc.Ideal)
		}
	}
}
