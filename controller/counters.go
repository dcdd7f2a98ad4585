// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"context"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/prometheus/client_golang/prometheus"
)

// Names of the steer_reason_counter and drop_counter indexes
// (p4src/include/define.p4).
var (
	reasonNames = map[int64]string{1: "hashed", 2: "equal_ports", 3: "fragment", 4: "other_protocol", 5: "icmp_error", 6: "echo", 7: "direct"}
	dropNames   = map[int64]string{1: "unknown_port", 2: "malformed", 3: "no_tm"}
)

var (
	tmPacketsDesc  = prometheus.NewDesc("symdist_tm_packets_total", "Packets the switch sent to the TM (tm_counter).", []string{"switch", "tm"}, nil)
	tmBytesDesc    = prometheus.NewDesc("symdist_tm_bytes_total", "Bytes the switch sent to the TM (tm_counter).", []string{"switch", "tm"}, nil)
	reasonDesc     = prometheus.NewDesc("symdist_steered_packets_total", "Steered packets by reason (steer_reason_counter).", []string{"switch", "reason"}, nil)
	dropDesc       = prometheus.NewDesc("symdist_dropped_packets_total", "Dropped packets by cause (drop_counter).", []string{"switch", "cause"}, nil)
	scrapeErrsDesc = prometheus.NewDesc("symdist_counter_read_errors", "1 when the switch's counters could not be read at this scrape.", []string{"switch"}, nil)
)

// counterCollector reads the pipeline's counters from every connected switch
// when Prometheus scrapes.
type counterCollector struct{ c *Controller }

func (cc counterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{tmPacketsDesc, tmBytesDesc, reasonDesc, dropDesc, scrapeErrsDesc} {
		ch <- d
	}
}

func (cc counterCollector) Collect(ch chan<- prometheus.Metric) {
	c := cc.c
	tmByID := map[int64]string{}
	for _, tm := range c.current().TMs {
		tmByID[int64(tm.ID)] = tm.Name
	}
	ids := c.builder.IDs
	for _, sw := range c.switches {
		sess := sw.session()
		if sess == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		es, err := sess.Read(ctx,
			counterQuery(ids.TMCounter), counterQuery(ids.SteerReasonCounter), counterQuery(ids.DropCounter))
		cancel()
		ch <- prometheus.MustNewConstMetric(scrapeErrsDesc, prometheus.GaugeValue, b2f(err != nil), sw.cfg.Name)
		if err != nil {
			continue
		}
		for _, e := range es {
			ce := e.GetCounterEntry()
			i := ce.GetIndex().GetIndex()
			pk, by := float64(ce.GetData().GetPacketCount()), float64(ce.GetData().GetByteCount())
			switch ce.GetCounterId() {
			case ids.TMCounter:
				if name, ok := tmByID[i]; ok {
					ch <- prometheus.MustNewConstMetric(tmPacketsDesc, prometheus.CounterValue, pk, sw.cfg.Name, name)
					ch <- prometheus.MustNewConstMetric(tmBytesDesc, prometheus.CounterValue, by, sw.cfg.Name, name)
				}
			case ids.SteerReasonCounter:
				if name, ok := reasonNames[i]; ok {
					ch <- prometheus.MustNewConstMetric(reasonDesc, prometheus.CounterValue, pk, sw.cfg.Name, name)
				}
			case ids.DropCounter:
				if name, ok := dropNames[i]; ok {
					ch <- prometheus.MustNewConstMetric(dropDesc, prometheus.CounterValue, pk, sw.cfg.Name, name)
				}
			}
		}
	}
}

func counterQuery(id uint32) *p4v1.Entity {
	return &p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{CounterId: id}}}
}
