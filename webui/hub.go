// SPDX-License-Identifier: Apache-2.0

package webui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/symdist/symdist/adminapi"
)

// Snapshot is what the page draws: one "snapshot" event of the stream.
// The bucket tables come in "table" events (TableView), each only when it
// changed, before the snapshot that goes with them.
type Snapshot struct {
	Groups   []GroupView  `json:"groups"`
	Switches []SwitchView `json:"switches"`
	Events   []Event      `json:"events"` // newest first, at most MaxEvents
}

// GroupView is one group and its TMs.
type GroupView struct {
	Name      string `json:"name"`
	ID        uint16 `json:"id"`
	DefaultTM string `json:"default_tm"`
	// Buckets in the table (0 before the controller computed it), and
	// how many are Moving (TableView).
	Buckets int      `json:"buckets"`
	Moving  int      `json:"moving"`
	TMs     []TMView `json:"tms"`
}

// TableView is one group's bucket table: one "table" event of the stream.
type TableView struct {
	Group string `json:"group"`
	// Owners names the TMs Table refers to, by index: the group's TMs in
	// config order, then any other name the table holds.
	Owners []string `json:"owners"`
	// Table is the owner (index in Owners) of each bucket, -1 for none;
	// empty before the controller computed the table.
	Table Ints `json:"table"`
	// Moving are the buckets in a handover: the TMs' published table does
	// not name the owner the switches are written with yet.
	Moving Ints `json:"moving"`
}

// groupTable is a group's TableView, encoded, and what it was made from.
type groupTable struct {
	sw, pub []string // the State's slices: never written, compared by identity
	owners  []string // the group's TMs
	moving  int
	version uint64 // the hub's, when made
	data    []byte
}

func sameSlice(x, y []string) bool {
	return len(x) == len(y) && (x == nil) == (y == nil) && (len(x) == 0 || &x[0] == &y[0])
}

// tableView makes a group's TableView from its table and TMs.
func tableView(group string, tms []string, t Table) TableView {
	v := TableView{Group: group, Owners: slices.Clone(tms), Table: make(Ints, 0, len(t.Switch)), Moving: Ints{}}
	index := map[string]int{}
	for i, tm := range tms {
		index[tm] = i
	}
	for b, owner := range t.Switch {
		i := -1
		if owner != "" {
			var ok bool
			if i, ok = index[owner]; !ok {
				i = len(v.Owners)
				index[owner] = i
				v.Owners = append(v.Owners, owner)
			}
		}
		v.Table = append(v.Table, i)
		if t.Published != nil && b < len(t.Published) && t.Published[b] != owner {
			v.Moving = append(v.Moving, b)
		}
	}
	return v
}

// TMView is one TM.
type TMView struct {
	adminapi.TMStatus
	// Share of the group's buckets, and Ideal, its weight's share of the
	// TMs in service (healthy, not drained).
	Share float64 `json:"share"`
	Ideal float64 `json:"ideal"`
	// Waiting: buckets of this TM in a loss it has not acknowledged yet.
	Waiting int `json:"waiting"`
	// HandoverTimeouts: losses it did not acknowledge in time.
	HandoverTimeouts int `json:"handover_timeouts"`
	// Chained: buckets that moved away from it within the chain window
	// and still chain to it.
	Chained int `json:"chained"`
}

// SwitchView is one switch.
type SwitchView struct {
	adminapi.SwitchStatus
	SyncTookMS float64 `json:"sync_took_ms"`
	Entries    int     `json:"entries"`
	Target     string  `json:"target"`
	Cookie     string  `json:"cookie"` // hex
}

// Event is one line of the page's event list.
type Event struct {
	Time time.Time `json:"time"`
	// Kind: health, drain, weight, move, handover, switch, primary,
	// config, start.
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// MaxEvents is how many events the page keeps.
const MaxEvents = 100

// idlePoll is how often the hub polls while no page is open: events
// still get recorded, with coarser times.
const idlePoll = time.Second

// hub polls the Source and fans snapshots out to the open pages.
type hub struct {
	src  Source
	done <-chan struct{}

	mu     sync.Mutex
	prev   *State
	print  []byte // fingerprint of prev: a poll that finds the same skips the work
	events []Event
	last   []byte // the last snapshot, JSON
	tables map[string]*groupTable
	order  []string // of the groups
	tver   uint64   // bumped by every new table
	subs   map[chan struct{}]bool
	kick   chan struct{} // a first page opened: poll now
}

func newHub(src Source, done <-chan struct{}) *hub {
	return &hub{src: src, done: done, subs: map[chan struct{}]bool{}, kick: make(chan struct{}, 1), tables: map[string]*groupTable{}}
}

func (h *hub) run() {
	h.poll(time.Now())
	t := time.NewTimer(idlePoll)
	defer t.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-h.kick:
		case <-t.C:
		}
		h.poll(time.Now())
		h.mu.Lock()
		every := idlePoll
		if len(h.subs) > 0 {
			every = PollInterval
		}
		h.mu.Unlock()
		t.Reset(every)
	}
}

// poll reads the source once, records the events since the last poll and
// wakes the pages when the snapshot changed.
func (h *hub) poll(now time.Time) {
	st := h.src.State()
	fp := fingerprint(&st)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.prev != nil && bytes.Equal(fp, h.print) && st.Config == h.prev.Config && sameTables(h.prev, &st) {
		return // nothing changed: no event, the same snapshot
	}
	h.print = fp
	evs := diff(h.prev, &st, now)
	h.prev = &st
	if len(evs) > 0 {
		slices.Reverse(evs)
		h.events = append(evs, h.events...)
		if len(h.events) > MaxEvents {
			h.events = h.events[:MaxEvents]
		}
	}
	tablesChanged := h.updateTables(&st)
	snap := build(&st, h.tables)
	snap.Events = h.events
	b, err := json.Marshal(snap)
	if err != nil || (bytes.Equal(b, h.last) && !tablesChanged) {
		return
	}
	h.last = b
	for ch := range h.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// updateTables encodes the tables that changed since the last poll and
// reports whether any did.
func (h *hub) updateTables(st *State) bool {
	changed := false
	h.order = h.order[:0]
	seen := map[string]bool{}
	for _, g := range st.Status.Groups {
		h.order = append(h.order, g.Name)
		seen[g.Name] = true
		tms := make([]string, len(g.TMs))
		for i, tm := range g.TMs {
			tms[i] = tm.Name
		}
		t := st.Tables[g.Name]
		if c := h.tables[g.Name]; c != nil && sameSlice(c.sw, t.Switch) && sameSlice(c.pub, t.Published) && slices.Equal(c.owners, tms) {
			continue
		}
		v := tableView(g.Name, tms, t)
		data, err := json.Marshal(v)
		if err != nil {
			continue
		}
		h.tver++
		h.tables[g.Name] = &groupTable{sw: t.Switch, pub: t.Published, owners: tms, moving: len(v.Moving), version: h.tver, data: data}
		changed = true
	}
	for g := range h.tables {
		if !seen[g] {
			delete(h.tables, g)
			changed = true
		}
	}
	return changed
}

// pending returns what a page that has the tables of versions sent lacks:
// the tables that changed, then the snapshot.
func (h *hub) pending(sent map[string]uint64) (tables [][]byte, snapshot []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, g := range h.order {
		if t := h.tables[g]; t != nil && sent[g] != t.version {
			tables = append(tables, t.data)
			sent[g] = t.version
		}
	}
	return tables, h.last
}

func (h *hub) subscribe() chan struct{} {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	h.subs[ch] = true
	first := len(h.subs) == 1
	if h.last != nil {
		ch <- struct{}{}
	}
	h.mu.Unlock()
	if first {
		select {
		case h.kick <- struct{}{}:
		default:
		}
	}
	return ch
}

func (h *hub) unsubscribe(ch chan struct{}) {
	h.mu.Lock()
	delete(h.subs, ch)
	h.mu.Unlock()
}

// pingEvery keeps proxies from closing an idle stream; writeTimeout is
// how long each event has to go out: a page that stops reading ends its
// stream (the admin API's server write timeout would end every stream).
const (
	pingEvery    = 10 * time.Second
	writeTimeout = 30 * time.Second
)

// serveEvents streams snapshots as server-sent events: the current one at
// once, then one per change.
func (h *hub) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout)) // a stream: per event, below
	ch := h.subscribe()
	defer h.unsubscribe(ch)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	sent := map[string]uint64{}
	for {
		var err error
		// Set before the wait, at most pingEvery: an event has at least
		// writeTimeout - pingEvery to go out.
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		select {
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		case <-ping.C:
			_, err = w.Write([]byte(": ping\n\n"))
		case <-ch:
			tables, snap := h.pending(sent)
			for _, t := range tables {
				if _, err = fmt.Fprintf(w, "event: table\ndata: %s\n\n", t); err != nil {
					break
				}
			}
			if err == nil {
				_, err = fmt.Fprintf(w, "event: snapshot\ndata: %s\n\n", snap)
			}
		}
		if err != nil || rc.Flush() != nil {
			return
		}
	}
}

// fingerprint identifies a State but for its tables and config, cheaply.
func fingerprint(st *State) []byte {
	b, _ := json.Marshal(struct {
		Status           adminapi.Status
		Switches         map[string]SwitchExtra
		HandoverTimeouts map[string]int
		Rejected         map[string]int
	}{st.Status, st.Switches, st.HandoverTimeouts, st.Rejected})
	return b
}

// sameTables reports whether two states hold the same tables: the same
// slices (the controller never writes a table once set: a change is a new
// slice) and the same counts.
func sameTables(a, b *State) bool {
	if len(a.Tables) != len(b.Tables) {
		return false
	}
	same := func(x, y []string) bool {
		return len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
	}
	for g, x := range a.Tables {
		y, ok := b.Tables[g]
		if !ok || !same(x.Switch, y.Switch) || !same(x.Published, y.Published) || (x.Published == nil) != (y.Published == nil) ||
			!maps.Equal(x.Waiting, y.Waiting) || !maps.Equal(x.Chained, y.Chained) {
			return false
		}
	}
	return true
}

// build turns a State into what the page draws but for the tables.
func build(st *State, tables map[string]*groupTable) Snapshot {
	snap := Snapshot{Groups: []GroupView{}, Switches: []SwitchView{}, Events: []Event{}}
	for _, g := range st.Status.Groups {
		t := st.Tables[g.Name]
		gv := GroupView{Name: g.Name, ID: g.ID, DefaultTM: g.DefaultTM, Buckets: len(t.Switch)}
		if c := tables[g.Name]; c != nil {
			gv.Moving = c.moving
		}
		inService := 0
		for _, tm := range g.TMs {
			if tm.Healthy && !tm.Drained {
				inService += tm.Weight
			}
		}
		for _, tm := range g.TMs {
			v := TMView{TMStatus: tm, Waiting: t.Waiting[tm.Name], Chained: t.Chained[tm.Name], HandoverTimeouts: st.HandoverTimeouts[tm.Name]}
			if len(t.Switch) > 0 {
				v.Share = float64(tm.Buckets) / float64(len(t.Switch))
			}
			if tm.Healthy && !tm.Drained && inService > 0 {
				v.Ideal = float64(tm.Weight) / float64(inService)
			}
			gv.TMs = append(gv.TMs, v)
		}
		snap.Groups = append(snap.Groups, gv)
	}
	for _, s := range st.Status.Switches {
		x := st.Switches[s.Name]
		snap.Switches = append(snap.Switches, SwitchView{SwitchStatus: s, SyncTookMS: float64(x.SyncTook.Microseconds()) / 1000,
			Entries: x.Entries, Target: x.Target, Cookie: fmt.Sprintf("%#x", x.Cookie)})
	}
	return snap
}

// Ints is a list of small integers that encodes to JSON fast: a table of
// 65,536 buckets is 65,536 of them.
type Ints []int

// MarshalJSON encodes the list as a JSON array.
func (l Ints) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+3*len(l))
	b = append(b, '[')
	for i, v := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return append(b, ']'), nil
}

// diff returns what happened between two polls, in order.
func diff(prev, cur *State, now time.Time) []Event {
	var evs []Event
	add := func(kind, format string, args ...any) {
		evs = append(evs, Event{Time: now, Kind: kind, Text: fmt.Sprintf(format, args...)})
	}
	if prev == nil {
		tms := 0
		for _, g := range cur.Status.Groups {
			tms += len(g.TMs)
		}
		add("start", "page started: %d groups, %d TMs, %d switches", len(cur.Status.Groups), tms, len(cur.Status.Switches))
		return evs
	}
	if cur.Config != prev.Config {
		add("config", "config reloaded: %d groups", len(cur.Status.Groups))
	}
	for _, via := range sortedKeys(cur.Rejected) {
		if n := cur.Rejected[via] - prev.Rejected[via]; n > 0 {
			add("config", "config rejected by %s (nothing changed)%s", via, times(n))
		}
	}
	before := map[string]adminapi.TMStatus{}
	for _, g := range prev.Status.Groups {
		for _, tm := range g.TMs {
			before[tm.Name] = tm
		}
	}
	for _, g := range cur.Status.Groups {
		for _, tm := range g.TMs {
			was, ok := before[tm.Name]
			switch {
			case !ok:
				add("config", "%s added to group %s", tm.Name, g.Name)
				continue
			case was.Healthy && !tm.Healthy:
				add("health", "%s down: failed its health check", tm.Name)
			case !was.Healthy && tm.Healthy:
				add("health", "%s up: passed its health check", tm.Name)
			}
			switch {
			case !was.Drained && tm.Drained:
				add("drain", "%s drained", tm.Name)
			case was.Drained && !tm.Drained:
				add("drain", "%s undrained", tm.Name)
			}
			if was.Weight != tm.Weight {
				add("weight", "%s weight %d → %d", tm.Name, was.Weight, tm.Weight)
			}
			if n := cur.HandoverTimeouts[tm.Name] - prev.HandoverTimeouts[tm.Name]; n > 0 {
				add("handover", "%s did not acknowledge a loss within the handover timeout%s: its buckets were written anyway", tm.Name, times(n))
			}
		}
	}
	for _, g := range cur.Status.Groups {
		was, now := prev.Tables[g.Name], cur.Tables[g.Name]
		if moved := moves(was.Switch, now.Switch); moved != "" {
			add("move", "%s: %s", g.Name, moved)
		}
		if w, n := was.Waiting, now.Waiting; len(n) > 0 && !maps.Equal(w, n) {
			var parts []string
			for _, tm := range sortedKeys(n) {
				parts = append(parts, fmt.Sprintf("%d buckets of %s", n[tm], tm))
			}
			add("handover", "%s: handover: %s wait for the TM's ack", g.Name, strings.Join(parts, ", "))
		}
	}
	sw := map[string]adminapi.SwitchStatus{}
	for _, s := range prev.Status.Switches {
		sw[s.Name] = s
	}
	for _, s := range cur.Status.Switches {
		was := sw[s.Name]
		switch {
		case !was.Connected && s.Connected:
			add("switch", "switch %s connected", s.Name)
		case was.Connected && !s.Connected:
			add("switch", "switch %s disconnected", s.Name)
		}
		switch {
		case !was.Primary && s.Primary:
			add("primary", "this controller is primary of switch %s", s.Name)
		case was.Primary && !s.Primary && s.Connected:
			add("primary", "preempted: another controller became primary of switch %s", s.Name)
		}
		if s.LastError != "" && s.LastError != was.LastError {
			add("switch", "switch %s: %s", s.Name, s.LastError)
		}
	}
	return evs
}

// moves says which buckets changed owner between two tables, by pair.
func moves(a, b []string) string {
	if len(a) == 0 || len(a) != len(b) || (len(b) > 0 && &a[0] == &b[0]) {
		return ""
	}
	type pair struct{ from, to string }
	n := map[pair]int{}
	total := 0
	for i := range a {
		if a[i] != b[i] {
			n[pair{a[i], b[i]}]++
			total++
		}
	}
	if total == 0 {
		return ""
	}
	pairs := make([]pair, 0, len(n))
	for p := range n {
		pairs = append(pairs, p)
	}
	sort.Slice(pairs, func(i, j int) bool {
		if n[pairs[i]] != n[pairs[j]] {
			return n[pairs[i]] > n[pairs[j]]
		}
		return pairs[i].from+"\x00"+pairs[i].to < pairs[j].from+"\x00"+pairs[j].to
	})
	name := func(s string) string {
		if s == "" {
			return "(none)"
		}
		return s
	}
	var parts []string
	for i, p := range pairs {
		if i == 4 {
			parts = append(parts, fmt.Sprintf("and %d more pairs", len(pairs)-4))
			break
		}
		parts = append(parts, fmt.Sprintf("%s → %s %d", name(p.from), name(p.to), n[p]))
	}
	return fmt.Sprintf("%d buckets moved: %s", total, strings.Join(parts, ", "))
}

func times(n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf(" (%d times)", n)
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
