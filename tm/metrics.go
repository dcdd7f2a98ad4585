// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsHandler serves GET /metrics: the counters of /stats in the
// Prometheus format, read at scrape time, each labelled with the TM's name.
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(statsCollector{s})
	reg.MustRegister(s.cfg.Collectors...)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

type statsCollector struct{ s *Server }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("symdist_tm_"+name, help, append([]string{"tm"}, labels...), nil)
}

var (
	descConns       = desc("connections_total", "Client connections by outcome: accepted, completed, failed; idle_timeout and aborted are among completed, refused_client_limit and refused_fd_limit among failed.", "outcome")
	descActive      = desc("connections_active", "Client connections being proxied.")
	descBytes       = desc("bytes_total", "Bytes proxied, by direction.", "direction")
	descPorts       = desc("self_ports", "Self-source ports: table (all), free, in_use (in use or held).", "state")
	descOccupancy   = desc("self_port_occupancy_ratio", "Share of the self-source port table in use or held.")
	descHigh        = desc("self_port_occupancy_high", "1 from 80% occupancy of the self ports or the file descriptor budget until both are back under 70%: idle connections then time out after --busy-idle-timeout.")
	descFDOcc       = desc("fd_occupancy_ratio", "Share of the file descriptor budget (max_connections) in use.")
	descMaxConns    = desc("max_connections", "Connections the open file limit leaves room for (0: no bound); past it new ones are refused.")
	descHTTPRefused = desc("http_refused_total", "Connections to the HTTP endpoint reset because it held its limit.")
	descCrossings   = desc("self_port_occupancy_high_total", "Times the occupancy crossed 80%.")
	descRetries     = desc("self_port_retries_total", "Self ports the kernel refused as busy, each followed by a try with the next.")
	descIdle        = desc("idle_timeout_seconds", "The idle timeout in force (0: never).")
	descClients     = desc("clients", "Client addresses with a connection.")
	descOwned       = desc("buckets_owned", "Buckets of its group this TM owns.")
	descBucketFails = desc("bucket_refresh_errors_total", "Bucket table fetches that failed.")
	descRefused     = desc("bucket_tables_refused_total", "Bucket tables refused as over the contract (more than 65,536 buckets, a bad name, too large): not applied, not acknowledged.")
)

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	tm := st.TM
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{tm}, labels...)...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{tm}, labels...)...)
	}
	cs := st.Connections
	counter(descConns, cs.Accepted, "accepted")
	counter(descConns, cs.Completed, "completed")
	counter(descConns, cs.Failed, "failed")
	counter(descConns, cs.IdleTimeouts, "idle_timeout")
	counter(descConns, cs.Aborted, "aborted")
	counter(descConns, cs.RefusedClientLimit, "refused_client_limit")
	counter(descConns, cs.RefusedFDLimit, "refused_fd_limit")
	gauge(descActive, float64(cs.Active))
	counter(descBytes, st.Bytes.ClientToServer, "client_to_server")
	counter(descBytes, st.Bytes.ServerToClient, "server_to_client")
	p := st.SelfPorts
	gauge(descPorts, float64(p.Table), "table")
	gauge(descPorts, float64(p.Free), "free")
	gauge(descPorts, float64(p.InUse), "in_use")
	gauge(descOccupancy, p.Occupancy)
	gauge(descHigh, b2f(p.High))
	counter(descCrossings, p.HighCrossings)
	counter(descRetries, p.Retries)
	gauge(descIdle, st.Limits.IdleTimeoutNow)
	gauge(descFDOcc, st.Limits.FDOccupancy)
	gauge(descMaxConns, float64(st.Limits.MaxConns))
	if h := c.s.http; h != nil {
		counter(descHTTPRefused, h.Refused())
	}
	gauge(descClients, float64(st.Limits.Clients))
	gauge(descOwned, float64(st.Buckets.Owned))
	counter(descBucketFails, st.Buckets.Errors)
	counter(descRefused, st.Buckets.Refused)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
