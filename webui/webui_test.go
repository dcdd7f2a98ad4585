// SPDX-License-Identifier: Apache-2.0

package webui

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/symdist/symdist/adminapi"
)

func state(drained bool, table ...string) *State {
	tms := []adminapi.TMStatus{{Name: "tm1", Weight: 1, Healthy: true}, {Name: "tm2", Weight: 1, Healthy: true, Drained: drained}}
	for i := range tms {
		for _, o := range table {
			if o == tms[i].Name {
				tms[i].Buckets++
			}
		}
	}
	return &State{
		Status: adminapi.Status{Groups: []adminapi.GroupStatus{{Name: "web", TMs: tms}},
			Switches: []adminapi.SwitchStatus{{Name: "sw1", Connected: true, Primary: true}}},
		Tables: map[string]Table{"web": {Switch: table, Published: table}},
		Config: 1,
	}
}

func TestDiff(t *testing.T) {
	now := time.Unix(1000, 0)
	texts := func(evs []Event) []string {
		var s []string
		for _, e := range evs {
			s = append(s, e.Kind+": "+e.Text)
		}
		return s
	}
	tests := []struct {
		name      string
		prev, cur func() *State
		want      []string
	}{
		{"first poll", nil, func() *State { return state(false, "tm1", "tm2") }, []string{"start: page started: 1 groups, 2 TMs, 1 switches"}},
		{"nothing", func() *State { return state(false, "tm1", "tm2") }, func() *State { return state(false, "tm1", "tm2") }, nil},
		{"drain and its move", func() *State { return state(false, "tm1", "tm2", "tm2") }, func() *State { return state(true, "tm1", "tm1", "tm1") },
			[]string{"drain: tm2 drained", "move: web: 2 buckets moved: tm2 → tm1 2"}},
		{"handover wait", func() *State { return state(false, "tm1", "tm2") }, func() *State {
			s := state(true, "tm1", "tm2")
			s.Tables["web"] = Table{Switch: []string{"tm1", "tm2"}, Published: []string{"tm1", ""}, Waiting: map[string]int{"tm2": 1}}
			return s
		}, []string{"drain: tm2 drained", "handover: web: handover: 1 buckets of tm2 wait for the TM's ack"}},
		{"health, weight, timeout", func() *State { return state(false, "tm1", "tm2") }, func() *State {
			s := state(false, "tm1", "tm2")
			s.Status.Groups[0].TMs[0].Healthy = false
			s.Status.Groups[0].TMs[1].Weight = 3
			s.HandoverTimeouts = map[string]int{"tm2": 2}
			return s
		}, []string{"health: tm1 down: failed its health check", "weight: tm2 weight 1 → 3",
			"handover: tm2 did not acknowledge a loss within the handover timeout (2 times): its buckets were written anyway"}},
		{"preempted, sync error", func() *State { return state(false, "tm1") }, func() *State {
			s := state(false, "tm1")
			s.Status.Switches[0].Primary = false
			s.Status.Switches[0].LastError = "write: boom"
			return s
		}, []string{"primary: preempted: another controller became primary of switch sw1", "switch: switch sw1: write: boom"}},
		{"reload and a rejected config", func() *State { return state(false, "tm1") }, func() *State {
			s := state(false, "tm1")
			s.Config = 2
			s.Rejected = map[string]int{"apply": 1}
			return s
		}, []string{"config: config reloaded: 1 groups", "config: config rejected by apply (nothing changed)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prev *State
			if tt.prev != nil {
				prev = tt.prev()
			}
			if diff := cmp.Diff(tt.want, texts(diff(prev, tt.cur(), now))); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	s := state(false, "tm1", "tm2", "tm2", "tm1")
	s.Tables["web"] = Table{Switch: []string{"tm1", "tm2", "tm2", "tm1"}, Published: []string{"tm1", "", "tm2", "tm1"}, Waiting: map[string]int{"tm2": 1}, Chained: map[string]int{"tm2": 7}}
	tv := tableView("web", []string{"tm1", "tm2"}, s.Tables["web"])
	if diff := cmp.Diff(TableView{Group: "web", Owners: []string{"tm1", "tm2"}, Table: Ints{0, 1, 1, 0}, Moving: Ints{1}}, tv); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	h := newHub(nil, nil)
	h.updateTables(s)
	g := build(s, h.tables).Groups[0]
	if g.Buckets != 4 || g.Moving != 1 {
		t.Errorf("group of %d buckets, %d moving; want 4, 1", g.Buckets, g.Moving)
	}
	if tm := g.TMs[1]; tm.Share != 0.5 || tm.Ideal != 0.5 || tm.Waiting != 1 || tm.Chained != 7 {
		t.Errorf("tm2 share %v ideal %v waiting %d chained %d, want 0.5 0.5 1 7", tm.Share, tm.Ideal, tm.Waiting, tm.Chained)
	}
}

type fakeSource struct {
	mu sync.Mutex
	st *State
}

func (f *fakeSource) State() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.st
}

func (f *fakeSource) set(s *State) {
	f.mu.Lock()
	f.st = s
	f.mu.Unlock()
}

// The stream sends the snapshot at once, then each change within a poll.
func TestEventsStream(t *testing.T) {
	src := &fakeSource{st: state(false, "tm1", "tm2")}
	done := make(chan struct{})
	defer close(done)
	mux := http.NewServeMux()
	Routes(mux, src, done)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + EventsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var tables []TableView // received since the last snapshot
	next := func() Snapshot {
		t.Helper()
		type res struct {
			s   Snapshot
			err error
		}
		ch := make(chan res, 1)
		tables = nil
		go func() {
			event := ""
			for sc.Scan() {
				if e, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
					event = e
				}
				data, ok := strings.CutPrefix(sc.Text(), "data: ")
				switch {
				case ok && event == "table":
					var tv TableView
					if err := json.Unmarshal([]byte(data), &tv); err != nil {
						ch <- res{err: err}
						return
					}
					tables = append(tables, tv)
				case ok && event == "snapshot":
					var s Snapshot
					ch <- res{s, json.Unmarshal([]byte(data), &s)}
					return
				}
			}
			ch <- res{err: sc.Err()}
		}()
		select {
		case r := <-ch:
			if r.err != nil {
				t.Fatal(r.err)
			}
			return r.s
		case <-time.After(time.Second):
			t.Fatal("no snapshot within a second")
		}
		return Snapshot{}
	}
	if s := next(); len(s.Groups) != 1 || s.Groups[0].TMs[1].Drained || len(tables) != 1 || len(tables[0].Table) != 2 {
		t.Fatalf("first snapshot: %+v, tables %+v", s, tables)
	}
	// A change of status alone sends no table.
	st := state(false, "tm1", "tm2")
	st.Tables = src.State().Tables
	st.Status.Groups[0].TMs[0].Weight = 2
	src.set(st)
	if s := next(); s.Groups[0].TMs[0].Weight != 2 || len(tables) != 0 {
		t.Fatalf("after a weight change: %+v, tables %+v", s, tables)
	}
	src.set(state(true, "tm1", "tm1"))
	s := next()
	if len(tables) != 1 || !slices.Equal(tables[0].Table, Ints{0, 0}) {
		t.Errorf("after the drain, tables %+v, want tm1's two buckets", tables)
	}
	if tm := s.Groups[0].TMs[1]; !tm.Drained || tm.Buckets != 0 {
		t.Errorf("after the drain tm2 drained %v with %d buckets", tm.Drained, tm.Buckets)
	}
	if len(s.Events) < 3 || s.Events[0].Kind != "move" || s.Events[1].Kind != "drain" || s.Events[2].Kind != "weight" {
		t.Errorf("events, newest first: %+v", s.Events)
	}
}

func TestPublic(t *testing.T) {
	for _, tt := range []struct {
		method, path string
		want         bool
	}{
		{"GET", "/", true},
		{"HEAD", "/ui/app.js", true},
		{"GET", "/ui/app.css", true},
		{"GET", EventsPath, false},
		{"POST", "/", false},
		{"GET", "/api/status", false},
		{"GET", "/ui/", false},
		{"GET", "/metrics", false},
	} {
		if got := Public(httptest.NewRequest(tt.method, tt.path, nil)); got != tt.want {
			t.Errorf("Public(%s %s) = %v, want %v", tt.method, tt.path, got, tt.want)
		}
	}
}

// The page loads nothing from another origin: no absolute URL in its
// assets.
func TestAssetsSelfContained(t *testing.T) {
	for _, file := range assetPaths {
		b, err := assets.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s contains %q", file, bad)
			}
		}
	}
}

// The cost of one changed snapshot at the largest tables the controller
// takes (16 groups of 65,536 buckets, 128 TMs).
func BenchmarkSnapshot(b *testing.B) {
	st := &State{Tables: map[string]Table{}}
	for g := range 16 {
		gs := adminapi.GroupStatus{Name: fmt.Sprintf("g%d", g)}
		for i := range 8 {
			gs.TMs = append(gs.TMs, adminapi.TMStatus{Name: fmt.Sprintf("tm%d-%d", g, i), Weight: 1, Healthy: true, Buckets: 8192})
		}
		table := make([]string, 65536)
		for i := range table {
			table[i] = gs.TMs[i%8].Name
		}
		st.Status.Groups = append(st.Status.Groups, gs)
		st.Tables[gs.Name] = Table{Switch: table, Published: table}
	}
	b.Run("tables changed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h := newHub(nil, nil)
			h.updateTables(st)
			if _, err := json.Marshal(build(st, h.tables)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("status changed", func(b *testing.B) {
		h := newHub(nil, nil)
		h.updateTables(st)
		b.ReportAllocs()
		for b.Loop() {
			h.updateTables(st)
			if _, err := json.Marshal(build(st, h.tables)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
