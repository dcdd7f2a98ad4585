// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// queueCollector reports the kernel's counters of the agent's queue
// (/proc/net/netfilter/nfnetlink_queue): packets waiting, and packets the
// kernel dropped because the queue was full or the agent's socket was.
type queueCollector struct{ queue uint16 }

var (
	queueWaiting = prometheus.NewDesc("symdist_chain_queue_packets", "Packets waiting in the chaining agent's queue.", nil, nil)
	queueDropped = prometheus.NewDesc("symdist_chain_queue_dropped_total",
		"Packets the kernel did not queue for the chaining agent (queue or socket full); dropped (the sender resends them).", []string{"where"}, nil)
)

func (q queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- queueWaiting; ch <- queueDropped }

// Collect reads the queue's line: queue number, portid, waiting, copy
// mode, copy range, queue dropped, user dropped, last id, 1.
func (q queueCollector) Collect(ch chan<- prometheus.Metric) {
	f, err := os.Open("/proc/net/netfilter/nfnetlink_queue")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 7 || fs[0] != strconv.Itoa(int(q.queue)) {
			continue
		}
		num := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
		ch <- prometheus.MustNewConstMetric(queueWaiting, prometheus.GaugeValue, num(fs[2]))
		ch <- prometheus.MustNewConstMetric(queueDropped, prometheus.CounterValue, num(fs[5]), "queue")
		ch <- prometheus.MustNewConstMetric(queueDropped, prometheus.CounterValue, num(fs[6]), "socket")
	}
}
