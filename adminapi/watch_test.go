// SPDX-License-Identifier: Apache-2.0

package adminapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// scripted serves one scripted stream per subscription: the lines of
// streams[i] for the i-th, then holds it open (or ends it, with end).
func scripted(t *testing.T, end bool, streams ...[]string) (*Client, *sync.Map) {
	acks := &sync.Map{} // "subscriber/version" -> true
	var mu sync.Mutex
	n := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/watch", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		i := n
		n++
		mu.Unlock()
		if i >= len(streams) {
			http.Error(w, `{"error":"no more"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		for _, l := range streams[i] {
			fmt.Fprintln(w, l)
		}
		w.(http.Flusher).Flush()
		if !end {
			<-r.Context().Done()
		}
	})
	mux.HandleFunc("POST /api/watch/{id}/ack", func(w http.ResponseWriter, r *http.Request) {
		var a Ack
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			http.Error(w, `{"error":"bad"}`, 400)
			return
		}
		acks.Store(fmt.Sprintf("%s/%d", r.PathValue("id"), a.Version), true)
		w.Write([]byte("{}"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &Client{URL: srv.URL}, acks
}

const hello = `{"type":"hello","subscriber":"s1","tm":"tm1","group":"web","handover_timeout_ms":1000}`

func table(v int, kind string) string {
	return fmt.Sprintf(`{"type":"table","group":"web","version":%d,"kind":%q,"buckets":["tm1","","tm2","tm1"]}`, v, kind)
}

func TestStream(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lines   []string
		want    []uint64 // versions Next returns
		wantErr string   // then this error
	}{
		{"tables in order, pings and unknown types skipped",
			[]string{hello, table(3, "initial"), `{"type":"ping"}`, `{"type":"news"}`, table(4, "loss"), table(5, "gain")}, []uint64{3, 4, 5}, ""},
		{"version going back", []string{hello, table(3, "initial"), table(3, "gain")}, []uint64{3}, "table version 3 after 3"},
		{"not json", []string{hello, "{"}, nil, "bad line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := scripted(t, false, tc.lines)
			s, err := c.Watch(context.Background(), "tm1", "")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Hello.Subscriber != "s1" || s.Hello.HandoverTimeoutMS != 1000 {
				t.Errorf("hello %+v", s.Hello)
			}
			for _, v := range tc.want {
				ev, err := s.Next()
				if err != nil || ev.Version != v || len(ev.Buckets) != 4 {
					t.Fatalf("Next = version %d, %v; want %d", ev.Version, err, v)
				}
			}
			if tc.wantErr != "" {
				if _, err := s.Next(); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("Next error %v, want %q", err, tc.wantErr)
				}
			}
		})
	}
}

func TestWatchNeedsHello(t *testing.T) {
	c, _ := scripted(t, false, []string{table(1, "initial")})
	if _, err := c.Watch(context.Background(), "tm1", ""); err == nil || !strings.Contains(err.Error(), "want a hello") {
		t.Errorf("got %v", err)
	}
}

// The follower applies and acknowledges each table, and subscribes again
// when a stream ends; a table it cannot apply is not acknowledged.
func TestFollowerResubscribes(t *testing.T) {
	c, acks := scripted(t, true,
		[]string{hello, table(1, "initial"), table(2, "loss")},
		[]string{strings.Replace(hello, "s1", "s2", 1), table(7, "initial")})
	var mu sync.Mutex
	var got []uint64
	var errs []error
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := Follower{Client: c, TM: "tm1",
		Apply: func(ev Event) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, ev.Version)
			if ev.Version == 2 {
				return fmt.Errorf("cannot")
			}
			return nil
		},
		OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }}
	go f.Run(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := acks.Load("s2/7"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("table 7 of the second stream never acknowledged")
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != "[1 2 7]" {
		t.Errorf("applied %v, want [1 2 7]", got)
	}
	if _, ok := acks.Load("s1/1"); !ok {
		t.Error("table 1 not acknowledged")
	}
	if _, ok := acks.Load("s1/2"); ok {
		t.Error("table 2 acknowledged though Apply failed")
	}
	if len(errs) < 2 {
		t.Errorf("errors %v: want the failed apply and the ended stream", errs)
	}
}

func TestIsPermanent(t *testing.T) {
	for code, want := range map[int]bool{400: true, 401: true, 404: true, 503: false, 500: false} {
		if got := IsPermanent(&HTTPError{Code: code}); got != want {
			t.Errorf("IsPermanent(%d) = %v", code, got)
		}
	}
	if IsPermanent(fmt.Errorf("dial: refused")) {
		t.Error("a network error is not permanent")
	}
}
