// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/test/testbed"
	"github.com/symdist/symdist/webui"
)

// The page's stream from a controller programming software switches,
// without a browser: the config's group and TMs with the switches' table,
// then a drain with its handover wait, the TM drained at 0 buckets, and
// the events.
func TestPageEvents(t *testing.T) {
	l := newLab(t)
	cfg := l.config(t, 10)
	hold := time.Second
	cfg.HandoverTimeout = &hold
	c, _ := runController(t, cfg)
	base := "http://" + testbed.ServeAdmin(t, c)
	testbed.Eventually(t, "initial programming", 10*time.Second, func() bool { return inSync(c) })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+webui.EventsPath, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<22)
	tables := map[string]webui.TableView{}
	// until reads events until done says so of a snapshot.
	until := func(what string, done func(webui.Snapshot) bool) webui.Snapshot {
		t.Helper()
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if e, ok := strings.CutPrefix(line, "event: "); ok {
				event = e
				continue
			}
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			switch event {
			case "table":
				var tv webui.TableView
				if err := json.Unmarshal([]byte(data), &tv); err != nil {
					t.Fatal(err)
				}
				tables[tv.Group] = tv
			case "snapshot":
				var s webui.Snapshot
				if err := json.Unmarshal([]byte(data), &s); err != nil {
					t.Fatal(err)
				}
				if done(s) {
					return s
				}
			}
		}
		t.Fatalf("the stream ended (%v) before %s", sc.Err(), what)
		return webui.Snapshot{}
	}
	tm2 := func(s webui.Snapshot) webui.TMView { return s.Groups[0].TMs[1] }

	s := until("the tier in sync", func(s webui.Snapshot) bool {
		return len(s.Switches) == 2 && s.Switches[0].InSync && s.Switches[1].InSync && len(tables["web"].Table) == 4096
	})
	if len(s.Groups) != 1 || len(s.Groups[0].TMs) != 3 || s.Groups[0].Name != "web" {
		t.Fatalf("groups %+v", s.Groups)
	}
	for _, sw := range s.Switches {
		if sw.Entries == 0 || sw.Target == "" || sw.Cookie == "0x0" || sw.LastSync.IsZero() {
			t.Errorf("switch %s: %+v", sw.Name, sw)
		}
	}
	had := tm2(s).Buckets
	owned := 0
	for _, o := range tables["web"].Table {
		if o >= 0 && tables["web"].Owners[o] == "tm2" {
			owned++
		}
	}
	if owned != had || had < 1365 {
		t.Fatalf("tm2 owns %d buckets in the table, %d in the status", owned, had)
	}

	api := &adminapi.Client{URL: base}
	w, err := api.Watch(context.Background(), "tm2", "") // never acknowledges
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	next(t, w)
	resp2, err := http.Post(base+"/api/tms/tm2/drain", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	s = until("the handover wait", func(s webui.Snapshot) bool { return tm2(s).Waiting > 0 })
	if tm := tm2(s); !tm.Drained || tm.Waiting != had || s.Groups[0].Moving != had || len(tables["web"].Moving) != had {
		t.Errorf("during the wait: tm2 %+v, %d moving, table moving %d; want drained, %d waiting and moving", tm, s.Groups[0].Moving, len(tables["web"].Moving), had)
	}
	s = until("tm2 at 0 buckets", func(s webui.Snapshot) bool { return tm2(s).Buckets == 0 && s.Groups[0].Moving == 0 })
	if tm := tm2(s); tm.HandoverTimeouts != 1 || tm.Chained != had || tm.Ideal != 0 || tm.Share != 0 {
		t.Errorf("after the drain: tm2 %+v, want 1 handover timeout, %d chained, share and ideal 0", tm, had)
	}
	var kinds []string
	for _, e := range s.Events {
		kinds = append(kinds, e.Kind)
	}
	for _, want := range []string{"move", "handover", "drain", "start"} { // the switches may connect before the page starts
		if !strings.Contains(strings.Join(kinds, " "), want) {
			t.Errorf("events %v lack a %q", kinds, want)
		}
	}
}

// The page works on the backup of a pair too (it reads only: the
// backup's view), while the backup still refuses what changes state.
func TestPageOnBackup(t *testing.T) {
	_, _, b := startPair(t)
	for _, path := range []string{"/", "/ui/app.js", webui.EventsPath} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", b.url+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cancel()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s on the backup: HTTP %d, want 200", path, resp.StatusCode)
		}
	}
	resp, err := http.Post(b.url+"/api/tms/tm2/drain", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != adminapi.StatusNotPrimary {
		t.Errorf("drain on the backup: HTTP %d, want %d", resp.StatusCode, adminapi.StatusNotPrimary)
	}
}
