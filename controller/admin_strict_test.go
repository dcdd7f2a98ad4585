// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/symdist/symdist/adminapi"
)

// watchHello opens a watch stream for TM tm on srv and returns its hello.
func watchHello(t *testing.T, srv *httptest.Server, tm string) adminapi.Event {
	t.Helper()
	resp, err := http.Get(srv.URL + "/api/watch?tm=" + tm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	line, err := bufio.NewReader(resp.Body).ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	var hello adminapi.Event
	if err := json.Unmarshal(line, &hello); err != nil {
		t.Fatal(err)
	}
	return hello
}

// Row 14 of issue 21 and the ack finding: bodies are one strict JSON value
// with the fields they need, acks never go backwards, and a subscriber id
// cannot be guessed.
func TestAdminStrictBodies(t *testing.T) {
	c, err := New(testConfig(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	weight := c.cfg.TM("tm1").Weight
	yaml, err := os.ReadFile("../examples/figure3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plan, _ := json.Marshal(adminapi.ConfigRequest{Name: "figure3.yaml", Config: string(yaml)})
	srv := httptest.NewServer(c.Handler(""))
	t.Cleanup(srv.Close) // after the streams close (cleanups run last first)
	hello, other := watchHello(t, srv, "tm1"), watchHello(t, srv, "tm1")
	for _, id := range []string{hello.Subscriber, other.Subscriber} {
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
			t.Errorf("subscriber id %q, want 128 random bits in hex", id)
		}
	}
	if hello.Subscriber == other.Subscriber {
		t.Errorf("two streams share subscriber id %q", hello.Subscriber)
	}
	c.mu.Lock()
	c.groupLocked("web").version = 3 // versions 1 to 3 published
	c.mu.Unlock()
	ack := "/api/watch/" + hello.Subscriber + "/ack"
	for _, tc := range []struct {
		path, body string
		want       int
	}{
		{"/api/tms/tm1/weight", `{"weight":2}{"weight":900}`, 400},
		{"/api/tms/tm1/weight", `{"weight":2,"weight":900}`, 400},
		{"/api/tms/tm1/weight", `{"weight":2}garbage`, 400},
		{"/api/tms/tm1/weight", `{}`, 400},
		{"/api/tms/tm1/weight", `{"wieght":2}`, 400},
		{"/api/tms/tm1/weight", `{"weight":` + strings.Repeat(" ", 70<<10) + `2}`, 413},
		{"/api/tms/tm1/report", `{"connections":1}garbage`, 400},
		{"/api/tms/tm1/report", `{}`, 400},
		{"/api/tms/tm1/report", `{"connections":7}`, 200},
		{ack, `{"version":1}garbage`, 400},
		{ack, `{"version":1}{"version":0}`, 400},
		{ack, `{}`, 400},
		{ack, `{"version":0}`, 400},
		{ack, `{"version":4}`, 400}, // never published
		{ack, `{"version":2}`, 200},
		{ack, `{"version":1}`, 409}, // backwards
		{ack, `{"version":2}`, 200}, // the same again
		{ack, `{"version":3}`, 200},
		{"/api/watch/1/ack", `{"version":3}`, 404}, // a sequential id
		{"/api/watch/2/ack", `{"version":3}`, 404},
		{"/api/config/plan", string(plan), 200},
		{"/api/config/plan", string(plan) + `{"name":"b"}`, 400},
		{"/api/config/plan", `{"name":"a",` + string(plan[1:]), 400}, // "name" twice
	} {
		resp, err := http.Post(srv.URL+tc.path, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("POST %s %.40s: HTTP %d, want %d", tc.path, tc.body, resp.StatusCode, tc.want)
		}
	}
	st := c.Status()
	got := map[string]any{}
	for _, g := range st.Groups {
		for _, tm := range g.TMs {
			if tm.Name == "tm1" {
				got["weight"] = tm.Weight
			}
		}
	}
	c.mu.Lock()
	got["acked"] = c.ho.subs[hello.Subscriber].acked
	got["other acked"] = c.ho.subs[other.Subscriber].acked
	c.mu.Unlock()
	want := map[string]any{"weight": weight, "acked": uint64(3), "other acked": uint64(0)}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("state after the refused bodies (-want +got):\n%s", d)
	}
}
