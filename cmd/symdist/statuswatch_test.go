// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symdist/symdist/adminapi"
)

// script answers the status calls in turn, the last one for ever, and ends
// the watch once every answer was given twice.
type script struct {
	mu      sync.Mutex
	answers []func() (adminapi.Status, error)
	calls   int
	cancel  context.CancelFunc
}

func (s *script) fetch(context.Context) (adminapi.Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := min(s.calls/2, len(s.answers)-1)
	s.calls++
	if s.calls > 2*len(s.answers) { // the call after the last answer ends it
		s.cancel()
	}
	return s.answers[i]()
}

func tier(drained bool) func() (adminapi.Status, error) {
	return func() (adminapi.Status, error) {
		return adminapi.Status{
			Switches: []adminapi.SwitchStatus{{Name: "client-side", Connected: true, Primary: true, InSync: true}},
			Groups: []adminapi.GroupStatus{{Name: "web", TMs: []adminapi.TMStatus{
				{Name: "tm1", Weight: 1, Healthy: true, Buckets: 2048},
				{Name: "tm2", Weight: 1, Healthy: true, Drained: drained, Buckets: map[bool]int{false: 2048, true: 0}[drained]}}}},
		}, nil
	}
}

func down() (adminapi.Status, error) { return adminapi.Status{}, errors.New("connection refused") }

func runWatch(t *testing.T, inPlace, asJSON bool, answers ...func() (adminapi.Status, error)) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := &script{answers: answers, cancel: cancel}
	var out bytes.Buffer
	w := statusWatch{fetch: s.fetch, url: "http://ctl:9090", every: time.Millisecond, inPlace: inPlace, asJSON: asJSON,
		now: func() time.Time { return time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC) }}
	if err := w.run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("the watch did not ask again")
	}
	return out.String()
}

// Issue 22 item 3: on a terminal every frame is drawn over the last: from
// the top, each line cleared to its end, the rest of the screen cleared.
func TestStatusWatchInPlace(t *testing.T) {
	out := runWatch(t, true, false, tier(false), down, tier(true))
	if !strings.HasPrefix(out, ansiHideCur+ansiClear+ansiHome) || !strings.HasSuffix(out, ansiClearDown+ansiShowCur) {
		t.Errorf("frames do not start at home and end clearing the screen: %q ... %q", out[:min(len(out), 30)], out[max(0, len(out)-30):])
	}
	frames := strings.Split(strings.TrimSuffix(strings.TrimPrefix(out, ansiHideCur+ansiClear), ansiShowCur), ansiHome)[1:]
	if len(frames) != 6 {
		t.Fatalf("%d frames, want 6 (every answer, twice)", len(frames))
	}
	for i, f := range frames {
		for _, line := range strings.Split(strings.TrimSuffix(f, ansiClearDown), "\n") {
			if line != "" && !strings.HasSuffix(line, ansiClearLine) {
				t.Errorf("frame %d: line %q not cleared to its end", i, line)
			}
		}
		if !strings.Contains(f, "symdist status  http://ctl:9090  every 1ms  12:00:00") {
			t.Errorf("frame %d has no header: %q", i, f)
		}
	}
	for i, want := range []string{"tm2 0 1 yes no 2048 -", "cannot read the controller's status: connection refused (trying again)", "tm2 0 1 yes yes 0 -"} {
		got := strings.ReplaceAll(frames[2*i], ansiClearLine, "")
		if !strings.Contains(strings.Join(strings.Fields(got), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("frame %d lacks %q:\n%s", 2*i, want, got)
		}
	}
}

// Into a pipe or a file, each change once, with no terminal codes.
func TestStatusWatchPipe(t *testing.T) {
	out := runWatch(t, false, false, tier(false), tier(false), down, tier(true))
	if strings.Contains(out, "\x1b") {
		t.Errorf("terminal codes in a pipe: %q", out)
	}
	if n := strings.Count(out, "--- 12:00:00\n"); n != 3 {
		t.Errorf("%d frames, want 3 (the changes):\n%s", n, out)
	}
	if !strings.Contains(out, "connection refused") || strings.Count(out, "DRAINED") != 2 {
		t.Errorf("output:\n%s", out)
	}
}

func TestStatusWatchJSON(t *testing.T) {
	out := runWatch(t, false, true, tier(false), tier(true))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want one per change:\n%s", len(lines), out)
	}
	var st adminapi.Status
	if err := json.Unmarshal([]byte(lines[1]), &st); err != nil || !st.Groups[0].TMs[1].Drained {
		t.Errorf("second line %s: %v", lines[1], err)
	}
}

// Through the command, against an admin API: refreshes until the context ends.
func TestStatusWatchCommand(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		st, _ := tier(n > 2)()
		json.NewEncoder(w).Encode(st)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"status", "--watch", "--interval", "20ms", "--controller", srv.URL})
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls < 5 {
		t.Errorf("%d status calls in 500 ms at 20 ms", calls)
	}
	if n := strings.Count(out.String(), "--- "); n != 2 {
		t.Errorf("%d frames, want 2 (before and after the drain):\n%s", n, out.String())
	}
	if _, err := runCmd(t, "status", "--watch", "--interval", "0s"); err == nil {
		t.Error("--interval 0 accepted")
	}
}
