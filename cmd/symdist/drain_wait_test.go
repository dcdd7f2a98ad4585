// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/symdist/symdist/adminapi"
)

// statusServer serves GET /api/status with TM tm2 reporting the counts
// in turn (nil: no report), the last one from then on.
func statusServer(t *testing.T, counts ...*int64) *adminapi.Client {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := min(int(calls.Add(1))-1, len(counts)-1)
		st := adminapi.Status{Groups: []adminapi.GroupStatus{{Name: "web", TMs: []adminapi.TMStatus{
			{Name: "tm1"}, {Name: "tm2", Drained: true, Connections: counts[i]}}}}}
		_ = json.NewEncoder(w).Encode(st)
	}))
	t.Cleanup(srv.Close)
	return &adminapi.Client{URL: srv.URL}
}

func n(v int64) *int64 { return &v }

func TestDrainWait(t *testing.T) {
	ctx := context.Background()
	t.Run("connections end one by one", func(t *testing.T) {
		var out strings.Builder
		if err := waitDrained(ctx, &out, statusServer(t, n(3), n(3), n(2), n(1), n(0)), "tm2", 5*time.Second, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		want := "tm2: 3 connections open\ntm2: 2 connections open\ntm2: 1 connections open\ntm2: 0 connections open\ntm2: drained, no connection left\n"
		if out.String() != want {
			t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
		}
	})
	t.Run("timeout says how many remain", func(t *testing.T) {
		var out strings.Builder
		err := waitDrained(ctx, &out, statusServer(t, n(5), n(2)), "tm2", 50*time.Millisecond, time.Millisecond)
		if !errors.Is(err, errDrainTimeout) || !strings.Contains(err.Error(), "tm2: 2 connections still open") {
			t.Errorf("err = %v, want 2 still open", err)
		}
	})
	t.Run("a TM that does not report", func(t *testing.T) {
		err := waitDrained(ctx, &strings.Builder{}, statusServer(t, nil), "tm2", time.Minute, time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "reports no connection count") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("an unknown TM", func(t *testing.T) {
		err := waitDrained(ctx, &strings.Builder{}, statusServer(t, n(0)), "tm9", time.Minute, time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), `no TM "tm9"`) {
			t.Errorf("err = %v", err)
		}
	})
}
