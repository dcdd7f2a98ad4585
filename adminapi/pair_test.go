// SPDX-License-Identifier: Apache-2.0

package adminapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

func TestSplitURLs(t *testing.T) {
	got := SplitURLs(" http://a:1/, http://b:2,,http://a:1 ")
	if want := []string{"http://a:1", "http://b:2"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// A client remembers which of its controllers answered as primary and
// asks it first next time.
func TestOrderPutsTheLastPrimaryFirst(t *testing.T) {
	c := &Client{URL: "http://order-a:1,http://order-b:2,http://order-c:3"}
	if got := c.order(); !slices.Equal(got, []string{"http://order-a:1", "http://order-b:2", "http://order-c:3"}) {
		t.Fatalf("before any answer: %v", got)
	}
	c.notePrimary("http://order-c:3")
	if got, want := c.order(), []string{"http://order-c:3", "http://order-a:1", "http://order-b:2"}; !slices.Equal(got, want) {
		t.Errorf("after c answered: %v, want %v", got, want)
	}
}

// fakePair is a backup that names the primary, and the primary: a watch
// and its acks, a drain, status from both.
type fakePair struct {
	backup, primary *httptest.Server
	mu              sync.Mutex
	acks            []string // "server subscriber/version"
	drains          int
}

func newFakePair(t *testing.T) *fakePair {
	f := &fakePair{}
	f.primary = httptest.NewServer(f.mux("primary"))
	f.backup = httptest.NewServer(f.mux("backup"))
	t.Cleanup(f.primary.Close)
	t.Cleanup(f.backup.Close)
	return f
}

func (f *fakePair) mux(role string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderRole, role)
		if role == RoleBackup {
			w.Header().Set(HeaderPrimary, f.primary.URL)
			if r.URL.Path == "/api/status" {
				json.NewEncoder(w).Encode(Status{Switches: []SwitchStatus{{Name: "s", Connected: true}}})
				return
			}
			if r.URL.Path != "/api/watch/s1/ack" { // an ack is for the stream's controller only
				w.WriteHeader(StatusNotPrimary)
				json.NewEncoder(w).Encode(NotPrimary{Error: "backup", Primary: f.primary.URL})
				return
			}
		}
		switch r.URL.Path {
		case "/api/status":
			json.NewEncoder(w).Encode(Status{Switches: []SwitchStatus{{Name: "s", Connected: true, Primary: true}}})
		case "/api/tms/tm1/drain":
			f.mu.Lock()
			f.drains++
			f.mu.Unlock()
			w.Write([]byte("{}"))
		case "/api/watch":
			w.Header().Set("Content-Type", "application/x-ndjson")
			fmt.Fprintln(w, hello)
			fmt.Fprintln(w, table(1, KindInitial))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case "/api/watch/s1/ack":
			var a Ack
			json.NewDecoder(r.Body).Decode(&a)
			f.mu.Lock()
			f.acks = append(f.acks, fmt.Sprintf("%s s1/%d", role, a.Version))
			f.mu.Unlock()
			w.Write([]byte("{}"))
		default:
			http.NotFound(w, r)
		}
	})
}

func TestClientFollowsThePrimary(t *testing.T) {
	f := newFakePair(t)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	ctx := context.Background()
	for _, urls := range []string{
		f.backup.URL + "," + f.primary.URL,
		deadURL + "," + f.backup.URL,
		f.backup.URL,
	} {
		c := &Client{URL: urls}
		st, err := c.Status(ctx)
		if err != nil || len(st.Switches) != 1 || !st.Switches[0].Primary {
			t.Errorf("%s: status %+v, %v: want the primary's", urls, st, err)
		}
		if err := c.Drain(ctx, "tm1", true); err != nil {
			t.Errorf("%s: drain: %v", urls, err)
		}
		s, err := c.Watch(ctx, "tm1", "")
		if err != nil {
			t.Fatalf("%s: watch: %v", urls, err)
		}
		ev, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(ctx, ev.Version); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.drains != 3 {
		t.Errorf("the primary got %d drains, want 3", f.drains)
	}
	if want := []string{"primary s1/1", "primary s1/1", "primary s1/1"}; !slices.Equal(f.acks, want) {
		t.Errorf("acks %v, want %v: every ack on the stream's controller", f.acks, want)
	}
	// The backup's status when no primary answers.
	f.primary.Close()
	st, err := (&Client{URL: f.backup.URL}).Status(ctx)
	if err != nil || len(st.Switches) != 1 || st.Switches[0].Primary {
		t.Errorf("backup alone, primary down: status %+v, %v; want the backup's", st, err)
	}
}
