// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/symdist/symdist/config"
)

// metrics are the controller's own Prometheus metrics; the switches'
// counters are read at scrape time by counterCollector.
type metrics struct {
	reg             *prometheus.Registry
	tmUp            *prometheus.GaugeVec
	switchConnected *prometheus.GaugeVec
	switchPrimary   *prometheus.GaugeVec
	bucketsMoved    *prometheus.CounterVec
	updatesWritten  *prometheus.CounterVec
	reprogram       prometheus.Histogram
	// Retry paths and liveness, so that a spinning one shows.
	connectAttempts  *prometheus.CounterVec
	syncAttempts     *prometheus.CounterVec
	livenessFailures *prometheus.CounterVec
	claims           *prometheus.GaugeVec
	noHigherID       *prometheus.GaugeVec
	splitStepDowns   prometheus.Counter
	// configRejected counts configs refused by reload, plan or apply.
	configRejected *prometheus.CounterVec
	readsRefused   *prometheus.CounterVec
	groupOf        map[string]string // TM -> group, for labels
}

func newMetrics(cfg *config.Config) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		tmUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "symdist_tm_up", Help: "1 when the TM takes traffic (healthy and not drained).",
		}, []string{"tm", "group"}),
		switchConnected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "symdist_switch_connected", Help: "1 while the P4Runtime stream to the switch is up.",
		}, []string{"switch"}),
		switchPrimary: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "symdist_switch_primary", Help: "1 while this controller is the switch's primary.",
		}, []string{"switch"}),
		bucketsMoved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "symdist_buckets_moved_total", Help: "Buckets whose TM changed.",
		}, []string{"group"}),
		updatesWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "symdist_p4runtime_updates_total", Help: "P4Runtime updates written to the switch.",
		}, []string{"switch"}),
		reprogram: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "symdist_reprogram_seconds",
			Help:    "From a change (health, drain) to every primary switch holding its result.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
	}
	m.connectAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "symdist_switch_connect_attempts_total", Help: "P4Runtime sessions opened or tried, reconnects included.",
	}, []string{"switch"})
	m.syncAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "symdist_switch_sync_attempts_total", Help: "Syncs of the switch's state started, retries included.",
	}, []string{"switch"})
	m.livenessFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "symdist_switch_liveness_failures_total", Help: "Liveness probes (P4Runtime Capabilities) the switch did not answer in time.",
	}, []string{"switch"})
	m.claims = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "symdist_switch_arbitration_claims", Help: "Claims sent since this controller was last the switch's primary.",
	}, []string{"switch"})
	m.noHigherID = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "symdist_switch_election_id_exhausted", Help: "1 while the switch has seen election id {2^64-1, 2^64-1}, so that no controller can become its primary.",
	}, []string{"switch"})
	m.splitStepDowns = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "symdist_split_step_downs_total", Help: "Times this controller stepped down because another controller was primary of other switches (split primaries).",
	})
	m.configRejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "symdist_config_rejected_total", Help: "Configs refused by a reload (SIGHUP), plan or apply; nothing changed.",
	}, []string{"via"})
	m.readsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "symdist_switch_reads_refused_total", Help: "Read answers refused: more entities than the P4Info allows (too_many), an entity twice (duplicate), too many bytes (too_large), an entity not asked for (not_asked).",
	}, []string{"switch", "reason"})
	m.reg.MustRegister(m.tmUp, m.switchConnected, m.switchPrimary, m.bucketsMoved, m.updatesWritten, m.reprogram,
		m.connectAttempts, m.syncAttempts, m.livenessFailures, m.claims, m.noHigherID, m.splitStepDowns, m.configRejected, m.readsRefused)
	m.groupOf = map[string]string{}
	for _, tm := range cfg.TMs {
		m.groupOf[tm.Name] = tm.Group
		m.tmUp.WithLabelValues(tm.Name, tm.Group).Set(1)
	}
	return m
}

func (m *metrics) setTMUp(name string, up bool) {
	m.tmUp.WithLabelValues(name, m.groupOf[name]).Set(b2f(up))
}

func b2f(x bool) float64 {
	if x {
		return 1
	}
	return 0
}

func (m *metrics) setSwitch(name string, connected, primary bool) {
	m.switchConnected.WithLabelValues(name).Set(b2f(connected))
	m.switchPrimary.WithLabelValues(name).Set(b2f(primary))
}
