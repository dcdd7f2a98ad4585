// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/symdist/symdist/webui"
)

// pageRoutes adds the web page (package webui) to the admin API: its
// assets at / and /ui/, its event stream at webui.EventsPath. The page
// only reads.
func (c *Controller) pageRoutes(mux *http.ServeMux) {
	webui.Routes(mux, pageSource{c}, c.ho.closing)
}

// pageSource is the controller as the page reads it.
type pageSource struct{ c *Controller }

func (p pageSource) State() webui.State {
	c := p.c
	st := webui.State{Status: c.Status(), Tables: map[string]webui.Table{}, Switches: map[string]webui.SwitchExtra{}}
	now := time.Now()
	c.mu.Lock()
	st.Config = c.cfg
	for gi := range c.cfg.Groups {
		name := c.cfg.Groups[gi].Name
		t := webui.Table{Switch: c.switchTableLocked(name)} // never written: shared
		if g := c.ho.groups[name]; g != nil {
			t.Published = g.published
			for b := range g.pending {
				if b < len(t.Switch) && t.Switch[b] != "" {
					if t.Waiting == nil {
						t.Waiting = map[string]int{}
					}
					t.Waiting[t.Switch[b]]++
				}
			}
		}
		for _, ch := range c.chainsLocked(name, now) {
			if t.Chained == nil {
				t.Chained = map[string]int{}
			}
			t.Chained[ch.Previous]++
		}
		st.Tables[name] = t
	}
	c.mu.Unlock()
	for _, sw := range c.switches {
		sw.mu.Lock()
		st.Switches[sw.cfg.Name] = webui.SwitchExtra{SyncTook: sw.syncTook, Entries: sw.entries,
			Target: string(sw.pipe.target), Cookie: sw.pipe.cookie}
		sw.mu.Unlock()
	}
	st.HandoverTimeouts = counts(c.ho.timeouts)
	st.Rejected = counts(c.metrics.configRejected)
	return st
}

// counts reads a counter with one label, by label value.
func counts(v *prometheus.CounterVec) map[string]int {
	ch := make(chan prometheus.Metric, 16)
	go func() { v.Collect(ch); close(ch) }()
	n := map[string]int{}
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) == nil && len(d.Label) == 1 && d.Counter != nil {
			n[d.Label[0].GetValue()] = int(d.Counter.GetValue())
		}
	}
	return n
}
