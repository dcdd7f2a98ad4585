// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/symdist/symdist/test/testbed"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/controller"
)

// handoverLab is the e2e lab (two software switches, three TMs) with a
// controller whose admin API serves on httptest. TCP health checks only for
// the tests that fail a TM, with slack: on a loaded machine 40 ms checks
// flap, and every flap is a handover.
type handoverLab struct {
	*lab
	c   *controller.Controller
	api *adminapi.Client
}

// newHandoverLab runs a controller with handover_timeout timeout, the
// TMs' health checks or none, and the config as each option changes it.
func newHandoverLab(t *testing.T, timeout time.Duration, healthChecks bool, options ...func(*config.Config)) *handoverLab {
	t.Helper()
	l := newLab(t)
	cfg := l.config(t, 10)
	cfg.HandoverTimeout = &timeout
	for i := range cfg.TMs {
		hc := &cfg.TMs[i].Health
		if !healthChecks {
			hc.Type = "none"
		}
		hc.Interval, hc.Timeout = 200*time.Millisecond, 200*time.Millisecond
	}
	for _, o := range options {
		o(cfg)
	}
	c, _ := runController(t, cfg)
	srv := httptest.NewServer(c.Handler(""))
	t.Cleanup(srv.Close)
	h := &handoverLab{lab: l, c: c, api: &adminapi.Client{URL: srv.URL}}
	testbed.Eventually(t, "initial programming", 10*time.Second, func() bool { return inSync(c) })
	return h
}

// watch subscribes and returns the stream with its initial table.
func (h *handoverLab) watch(t *testing.T, tm, group string) (*adminapi.Stream, adminapi.Event) {
	t.Helper()
	s, err := h.api.Watch(context.Background(), tm, group)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ev := next(t, s)
	if ev.Kind != adminapi.KindInitial {
		t.Fatalf("first table of a stream is a %q, want %q", ev.Kind, adminapi.KindInitial)
	}
	return s, ev
}

// next reads the stream's next table, failing after 5 s.
func next(t *testing.T, s *adminapi.Stream) adminapi.Event {
	t.Helper()
	type result struct {
		ev  adminapi.Event
		err error
	}
	ch := make(chan result, 1)
	go func() { ev, err := s.Next(); ch <- result{ev, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.ev
	case <-time.After(5 * time.Second):
		t.Fatal("no table within 5 s")
	}
	return adminapi.Event{}
}

func ack(t *testing.T, s *adminapi.Stream, v uint64) {
	t.Helper()
	if err := s.Ack(context.Background(), v); err != nil {
		t.Fatal(err)
	}
}

func (h *handoverLab) drain(t *testing.T, tm string, on bool) {
	t.Helper()
	verb := "undrain"
	if on {
		verb = "drain"
	}
	resp, err := http.Post(h.api.URL+"/api/tms/"+tm+"/"+verb, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: HTTP %d", verb, tm, resp.StatusCode)
	}
}

// both reports whether cond holds for the bucket counts (per member) of
// each switch.
func (h *handoverLab) both(t *testing.T, cond func(counts map[uint32]int) bool) bool {
	for _, sw := range []*testSwitch{h.client, h.server} {
		counts := map[uint32]int{}
		for _, m := range sw.bucketTable(t) {
			counts[m]++
		}
		if !cond(counts) {
			return false
		}
	}
	return true
}

func count(buckets []string, tm string) int {
	n := 0
	for _, o := range buckets {
		if o == tm {
			n++
		}
	}
	return n
}

// stays checks for d that cond keeps holding.
func stays(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if !cond() {
			t.Fatalf("%s did not hold", what)
		}
	}
}

// A TM coming back (undrain): the TMs that lose buckets to it hear it
// first, and the switches move each TM's buckets only after that TM has
// acknowledged; the gain is published once both switches hold it.
func TestHandoverWaitsForAcks(t *testing.T) {
	h := newHandoverLab(t, time.Minute, false)
	h.drain(t, "tm3", true) // nobody follows tm3: no wait
	testbed.Eventually(t, "tm3 drained", 10*time.Second, func() bool { return h.both(t, func(c map[uint32]int) bool { return c[3] == 0 && inSync(h.c) }) })

	s1, init1 := h.watch(t, "tm1", "")
	s2, init2 := h.watch(t, "tm2", "")
	obs, initObs := h.watch(t, "", "web")
	if init1.Version != init2.Version || init1.Version != initObs.Version || count(init1.Buckets, "tm3") != 0 {
		t.Fatalf("initial tables: versions %d %d %d, tm3 owns %d", init1.Version, init2.Version, initObs.Version, count(init1.Buckets, "tm3"))
	}
	had1, had2 := count(init1.Buckets, "tm1"), count(init2.Buckets, "tm2")

	h.drain(t, "tm3", false)
	loss1, loss2 := next(t, s1), next(t, s2)
	if loss1.Kind != adminapi.KindLoss || loss1.Version != init1.Version+1 || loss2.Version != loss1.Version {
		t.Fatalf("after undrain: %q version %d and %d, want a loss, version %d", loss1.Kind, loss1.Version, loss2.Version, init1.Version+1)
	}
	lost1, lost2 := had1-count(loss1.Buckets, "tm1"), had2-count(loss2.Buckets, "tm2")
	if lost1 < 600 || lost2 < 600 || count(loss1.Buckets, "tm3") != 0 {
		t.Fatalf("loss event: tm1 lost %d, tm2 lost %d, tm3 owns %d; want about 682 each and 0", lost1, lost2, count(loss1.Buckets, "tm3"))
	}
	noneMoved := func() bool { return h.both(t, func(c map[uint32]int) bool { return c[3] == 0 }) }
	stays(t, 300*time.Millisecond, "no switch write before any ack", noneMoved)

	ack(t, s1, loss1.Version)
	testbed.Eventually(t, "tm1's lost buckets on tm3", 10*time.Second, func() bool {
		return h.both(t, func(c map[uint32]int) bool { return c[3] == lost1 && c[1] == had1-lost1 && c[2] == had2 })
	})
	stays(t, 200*time.Millisecond, "tm2's buckets wait for tm2's ack", func() bool { return h.both(t, func(c map[uint32]int) bool { return c[2] == had2 }) })

	ack(t, s2, loss2.Version)
	testbed.Eventually(t, "all moves written", 10*time.Second, func() bool {
		return h.both(t, func(c map[uint32]int) bool { return c[3] == lost1+lost2 && inSync(h.c) })
	})

	// The observer saw the loss, then gains; each gain names tm3 only
	// where both switches already hold tm3.
	last := initObs.Version
	for gained := 0; gained < lost1+lost2; {
		ev := next(t, obs)
		if ev.Version <= last {
			t.Fatalf("version %d after %d", ev.Version, last)
		}
		last = ev.Version
		a, b := h.client.bucketTable(t), h.server.bucketTable(t)
		for i, o := range ev.Buckets {
			if o == "tm3" && (a[i] != 3 || b[i] != 3) {
				t.Fatalf("version %d (%s) names tm3 for bucket %d, the switches hold members %d and %d", ev.Version, ev.Kind, i, a[i], b[i])
			}
		}
		gained = count(ev.Buckets, "tm3")
	}
	if got, settled := h.c.Published("web"); got != last || !settled {
		t.Errorf("Published = %d, %v; the observer's last = %d", got, settled, last)
	}
}

// A TM being drained is live: its buckets move only after it acknowledged.
func TestHandoverDrainWaitsForTheDrainedTM(t *testing.T) {
	h := newHandoverLab(t, time.Minute, false)
	s1, init1 := h.watch(t, "tm1", "")
	h.drain(t, "tm1", true)
	ev := next(t, s1)
	if ev.Kind != adminapi.KindLoss || count(ev.Buckets, "tm1") != 0 || count(init1.Buckets, "tm1") < 1365 {
		t.Fatalf("drain: %q event, tm1 owns %d (had %d); want a loss of all", ev.Kind, count(ev.Buckets, "tm1"), count(init1.Buckets, "tm1"))
	}
	stays(t, 300*time.Millisecond, "tm1 keeps its buckets until it acks", func() bool { return h.both(t, func(c map[uint32]int) bool { return c[1] >= 1365 }) })
	ack(t, s1, ev.Version)
	testbed.Eventually(t, "tm1 drained", 10*time.Second, func() bool { return h.both(t, func(c map[uint32]int) bool { return c[1] == 0 }) })
}

// No ack: the switches are written after handover_timeout, and the TM is
// counted.
func TestHandoverTimeout(t *testing.T) {
	const timeout = 400 * time.Millisecond
	h := newHandoverLab(t, timeout, false)
	h.drain(t, "tm3", true)
	testbed.Eventually(t, "tm3 drained", 10*time.Second, func() bool { return h.both(t, func(c map[uint32]int) bool { return c[3] == 0 }) })
	s1, _ := h.watch(t, "tm1", "")
	before := handoverTimeouts(t, h.api, "tm1")
	start := time.Now()
	h.drain(t, "tm3", false)
	if ev := next(t, s1); ev.Kind != adminapi.KindLoss {
		t.Fatalf("got a %q table, want a loss", ev.Kind)
	}
	// tm2 nobody follows: its buckets move at once; tm1's wait.
	testbed.Eventually(t, "tm2's buckets on tm3", 10*time.Second, func() bool { return h.both(t, func(c map[uint32]int) bool { return c[3] >= 600 }) })
	testbed.Eventually(t, "tm1's buckets on tm3 after the timeout", 10*time.Second, func() bool { return h.both(t, func(c map[uint32]int) bool { return c[3] >= 1365 }) })
	if waited := time.Since(start); waited < timeout {
		t.Errorf("switches written after %v, before the %v timeout", waited, timeout)
	}
	if got := handoverTimeouts(t, h.api, "tm1"); got != before+1 {
		t.Errorf("symdist_handover_timeouts_total{tm=\"tm1\"} = %v, want %v", got, before+1)
	}
}

// handoverTimeouts reads symdist_handover_timeouts_total for tm from
// /metrics (0 when absent).
func handoverTimeouts(t *testing.T, api *adminapi.Client, tm string) float64 {
	t.Helper()
	resp, err := http.Get(api.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^symdist_handover_timeouts_total\{tm="` + tm + `"\} (\d+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	var n float64
	for _, d := range m[1] {
		n = 10*n + float64(d-'0')
	}
	return n
}

// A subscriber that goes away holds nothing up: its TM's losses proceed
// at once, long before the timeout.
func TestHandoverSubscriberDisconnects(t *testing.T) {
	h := newHandoverLab(t, time.Minute, false)
	h.drain(t, "tm3", true)
	testbed.Eventually(t, "tm3 drained", 10*time.Second, func() bool { return h.both(t, func(c map[uint32]int) bool { return c[3] == 0 }) })
	s1, _ := h.watch(t, "tm1", "")
	h.drain(t, "tm3", false)
	ev := next(t, s1)
	stays(t, 300*time.Millisecond, "tm1's buckets wait", func() bool { return h.both(t, func(c map[uint32]int) bool { return c[1] >= 2000 }) })
	s1.Close()
	testbed.Eventually(t, "moves after the disconnect", 10*time.Second, func() bool { return h.both(t, func(c map[uint32]int) bool { return c[3] >= 1365 }) })
	if err := h.api.Ack(context.Background(), s1.Hello.Subscriber, ev.Version); !isHTTP(err, 404) {
		t.Errorf("ack from a closed stream: %v, want HTTP 404", err)
	}
}

// A TM that fails needs no handover: its buckets move at once even though
// the survivors (which only gain) never acknowledge anything.
func TestHandoverFailureDoesNotWait(t *testing.T) {
	h := newHandoverLab(t, time.Minute, true)
	s1, _ := h.watch(t, "tm1", "")
	h.watch(t, "tm2", "") // never acks
	h.watch(t, "tm3", "")
	start := time.Now()
	h.health[1].ln.Close()
	testbed.Eventually(t, "tm2's buckets gone", 10*time.Second, func() bool { return h.both(t, func(c map[uint32]int) bool { return c[2] == 0 }) })
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("failover took %v", took)
	}
	ev := next(t, s1)
	if ev.Kind != adminapi.KindGain && ev.Kind != adminapi.KindLoss || count(ev.Buckets, "tm1") < 1365 || count(ev.Buckets, "tm2") != 0 {
		t.Errorf("after tm2 failed: %q, tm1 owns %d, tm2 %d", ev.Kind, count(ev.Buckets, "tm1"), count(ev.Buckets, "tm2"))
	}
}

// A weight change moves buckets only to the reweighted TM, with the
// handover; bad weights are refused.
func TestHandoverWeight(t *testing.T) {
	h := newHandoverLab(t, time.Minute, false)
	s2, _ := h.watch(t, "tm2", "")
	ctx := context.Background()
	if err := h.api.SetWeight(ctx, "tm1", 2); err != nil {
		t.Fatal(err)
	}
	ev := next(t, s2)
	if ev.Kind != adminapi.KindLoss {
		t.Fatalf("got %q, want a loss for tm2", ev.Kind)
	}
	stays(t, 200*time.Millisecond, "tm2 keeps its buckets until it acks", func() bool { return h.both(t, func(c map[uint32]int) bool { return c[2] >= 1365 }) })
	ack(t, s2, ev.Version)
	testbed.Eventually(t, "tm1 at weight 2", 10*time.Second, func() bool {
		return h.both(t, func(c map[uint32]int) bool { return c[1] == 2048 && c[2] == 1024 && c[3] == 1024 })
	})
	for _, tc := range []struct {
		tm     string
		weight int
		code   int
	}{{"tm1", 0, 400}, {"tm1", 1001, 400}, {"tm9", 2, 404}} {
		if err := h.api.SetWeight(ctx, tc.tm, tc.weight); !isHTTP(err, tc.code) {
			t.Errorf("weight %d for %s: %v, want HTTP %d", tc.weight, tc.tm, err, tc.code)
		}
	}
}

func isHTTP(err error, code int) bool {
	var he *adminapi.HTTPError
	return errors.As(err, &he) && he.Code == code
}

// Requests the watch protocol refuses.
func TestWatchErrors(t *testing.T) {
	h := newHandoverLab(t, time.Second, false)
	ctx := context.Background()
	for _, tc := range []struct {
		tm, group string
		code      int
	}{{"tm9", "", 404}, {"", "nope", 404}, {"", "", 400}} {
		if _, err := h.api.Watch(ctx, tc.tm, tc.group); !isHTTP(err, tc.code) || !adminapi.IsPermanent(err) {
			t.Errorf("watch tm=%q group=%q: %v, want a permanent HTTP %d", tc.tm, tc.group, err, tc.code)
		}
	}
	s, ev := h.watch(t, "tm1", "")
	if err := s.Ack(ctx, ev.Version+1); !isHTTP(err, 400) {
		t.Errorf("ack of an unpublished version: %v, want HTTP 400", err)
	}
	if err := h.api.Ack(ctx, "999", 1); !isHTTP(err, 404) {
		t.Errorf("ack for no subscriber: %v, want HTTP 404", err)
	}
	resp, err := http.Post(h.api.URL+"/api/watch/"+s.Hello.Subscriber+"/ack", "application/json", strings.NewReader(`{"versoin": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("ack with an unknown field: HTTP %d, want 400", resp.StatusCode)
	}
}
