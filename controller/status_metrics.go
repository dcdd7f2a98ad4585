// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"github.com/prometheus/client_golang/prometheus"
)

// What GET /api/status says, on /metrics too (the Grafana dashboard in
// examples/grafana draws it), read at scrape time.
var (
	tmBucketsDesc = prometheus.NewDesc("symdist_tm_buckets",
		"Buckets of the group the switches are written to send to the TM.", []string{"group", "tm"}, nil)
	tmIdealDesc = prometheus.NewDesc("symdist_tm_ideal_share",
		"The TM's weight over the weights of the group's TMs in service (healthy, not drained): its share of the buckets when balanced.", []string{"group", "tm"}, nil)
	tmWeightDesc  = prometheus.NewDesc("symdist_tm_weight", "The TM's weight in force.", []string{"tm"}, nil)
	tmDrainedDesc = prometheus.NewDesc("symdist_tm_drained", "1 while the TM is drained.", []string{"tm"}, nil)
	tmConnsDesc   = prometheus.NewDesc("symdist_tm_reported_connections",
		"Connections open through the TM, as it last reported them (absent without a report in the last 6 s).", []string{"tm"}, nil)
	switchInSyncDesc = prometheus.NewDesc("symdist_switch_in_sync",
		"1 while the switch holds the desired state of this controller (primary and synced).", []string{"switch"}, nil)
	switchLastSyncDesc = prometheus.NewDesc("symdist_switch_last_sync_timestamp_seconds",
		"When the last sync of the switch succeeded (Unix time).", []string{"switch"}, nil)
	switchSyncDesc = prometheus.NewDesc("symdist_switch_last_sync_seconds",
		"How long the last successful sync of the switch took, read to written.", []string{"switch"}, nil)
	switchEntriesDesc = prometheus.NewDesc("symdist_switch_entries",
		"Entries the switch held after the last successful sync.", []string{"switch"}, nil)
)

// statusCollector exports the controller's status.
type statusCollector struct{ c *Controller }

func (sc statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{tmBucketsDesc, tmIdealDesc, tmWeightDesc, tmDrainedDesc, tmConnsDesc,
		switchInSyncDesc, switchLastSyncDesc, switchSyncDesc, switchEntriesDesc} {
		ch <- d
	}
}

func (sc statusCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	st := sc.c.Status()
	for _, g := range st.Groups {
		inService := 0
		for _, tm := range g.TMs {
			if tm.Healthy && !tm.Drained {
				inService += tm.Weight
			}
		}
		for _, tm := range g.TMs {
			gauge(tmBucketsDesc, float64(tm.Buckets), g.Name, tm.Name)
			ideal := 0.0
			if tm.Healthy && !tm.Drained && inService > 0 {
				ideal = float64(tm.Weight) / float64(inService)
			}
			gauge(tmIdealDesc, ideal, g.Name, tm.Name)
			gauge(tmWeightDesc, float64(tm.Weight), tm.Name)
			gauge(tmDrainedDesc, b2f(tm.Drained), tm.Name)
			if tm.Connections != nil {
				gauge(tmConnsDesc, float64(*tm.Connections), tm.Name)
			}
		}
	}
	for _, s := range st.Switches {
		gauge(switchInSyncDesc, b2f(s.InSync), s.Name)
	}
	for _, sw := range sc.c.switches {
		sw.mu.Lock()
		last, took, n := sw.lastSync, sw.syncTook, sw.entries
		sw.mu.Unlock()
		if last.IsZero() {
			continue
		}
		gauge(switchLastSyncDesc, float64(last.UnixNano())/1e9, sw.cfg.Name)
		gauge(switchSyncDesc, took.Seconds(), sw.cfg.Name)
		gauge(switchEntriesDesc, float64(n), sw.cfg.Name)
	}
}
