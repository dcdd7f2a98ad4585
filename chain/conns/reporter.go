// SPDX-License-Identifier: Apache-2.0

package conns

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/internal/limitlog"
)

// DefaultMax is how many conntrack entries a dump reads at most by
// default: it bounds one dump's work, and is above the usual
// nf_conntrack_max (262,144 on hosts of 4 GiB or more), so that by default
// a dump reads the whole table. Past it the counts are a lower bound.
const DefaultMax = 1 << 20

// Fresh ages: a report reuses a dump younger than ReportFresh (an ack's,
// just taken), and an ack one younger than AckFresh: a loss's ack must
// name the ports of connections opened up to the loss.
const (
	ReportFresh = adminapi.ReportInterval / 2
	AckFresh    = 250 * time.Millisecond
)

// Reporter keeps what TM says of itself (adminapi.Report, the in_use of
// its acks) from the host's conntrack table: at most one dump per report
// interval, plus one per ack. Safe for concurrent use.
type Reporter struct {
	TM     string
	Config Config
	Max    int // entries a dump reads at most (0: DefaultMax)
	Log    *slog.Logger
	// Dump reads the table (nil: Dump, the host's).
	Dump func(max int, fn func(Entry)) (n int, truncated bool, err error)

	mu      sync.Mutex // one dump at a time
	last    *Scan      // nil: no dump has worked yet, or the last failed
	lastAt  time.Time  // when last's dump began
	failing bool
	lim     *limitlog.Limiter

	tmu     sync.Mutex
	buckets []string

	once                         sync.Once
	conns, inUse, entries        prometheus.Gauge
	dumps                        *prometheus.CounterVec
	duration                     prometheus.Histogram
	dumpErrors, truncatedCounter prometheus.Counter
}

func (r *Reporter) init() {
	r.once.Do(func() {
		if r.Log == nil {
			r.Log = slog.New(slog.DiscardHandler)
		}
		r.lim = limitlog.New(time.Minute)
		r.conns = prometheus.NewGauge(prometheus.GaugeOpts{Name: "symdist_chain_connections",
			Help: "Open TCP connections of the TM in the last conntrack dump (docs/tm.md, \"Chaining\")."})
		r.inUse = prometheus.NewGauge(prometheus.GaugeOpts{Name: "symdist_chain_in_use_ports",
			Help: "Self ports in use in buckets this TM does not own, in the last dump (reported as in_use)."})
		r.entries = prometheus.NewGauge(prometheus.GaugeOpts{Name: "symdist_chain_conntrack_entries",
			Help: "Conntrack entries read by the last dump (every protocol; at most --conntrack-max)."})
		r.dumps = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "symdist_chain_conntrack_dumps_total",
			Help: "Conntrack dumps, by what asked for them: report or ack."}, []string{"for"})
		r.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "symdist_chain_conntrack_dump_seconds",
			Help: "How long a conntrack dump took.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)})
		r.dumpErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "symdist_chain_conntrack_dump_errors_total",
			Help: "Conntrack dumps that failed (no report, no in_use until one works)."})
		r.truncatedCounter = prometheus.NewCounter(prometheus.CounterOpts{Name: "symdist_chain_conntrack_truncated_total",
			Help: "Conntrack dumps stopped at --conntrack-max entries: connections and in_use were a lower bound."})
	})
}

// Collectors are the reporter's metrics.
func (r *Reporter) Collectors() []prometheus.Collector {
	r.init()
	return []prometheus.Collector{r.conns, r.inUse, r.entries, r.dumps, r.duration, r.dumpErrors, r.truncatedCounter}
}

// SetTable takes the group's table in force (owner per bucket).
func (r *Reporter) SetTable(buckets []string) {
	r.tmu.Lock()
	r.buckets = buckets
	r.tmu.Unlock()
}

func (r *Reporter) table() []string {
	r.tmu.Lock()
	defer r.tmu.Unlock()
	return r.buckets
}

// scan returns a scan begun at most maxAge ago, dumping if there is none;
// nil when conntrack cannot be read.
func (r *Reporter) scan(maxAge time.Duration, why string) *Scan {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last != nil && time.Since(r.lastAt) < maxAge {
		return r.last
	}
	dump, max := r.Dump, r.Max
	if dump == nil {
		dump = Dump
	}
	if max <= 0 {
		max = DefaultMax
	}
	s := NewScan(r.Config)
	start := time.Now()
	r.dumps.WithLabelValues(why).Inc()
	_, truncated, err := dump(max, func(e Entry) { s.Add(e) })
	r.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		r.dumpErrors.Inc()
		r.last = nil
		if !r.failing {
			r.failing = true
			r.Log.Error("conntrack unavailable: not reporting the TM's connections, acks carry no in_use (needs CAP_NET_ADMIN and the nf_conntrack_netlink module)", "err", err)
		}
		return nil
	}
	if r.failing {
		r.failing = false
		r.Log.Info("conntrack readable again: reporting connections and in_use")
	}
	if truncated {
		s.Truncated = true
		r.truncatedCounter.Inc()
		r.lim.Log(r.Log, slog.LevelWarn, "truncated", "conntrack dump stopped at the cap: connections and in_use are a lower bound", "entries", s.Entries, "conntrack_max", max)
	}
	r.entries.Set(float64(s.Entries))
	r.conns.Set(float64(s.Connections))
	r.last, r.lastAt = s, start
	return s
}

// inUseOf is the in_use of s against the table in force, and the metric.
func (r *Reporter) inUseOf(s *Scan) []adminapi.InUse {
	in, n := s.inUse(r.table(), r.TM)
	r.inUse.Set(float64(n))
	return in
}

// InUse is an ack's in_use (adminapi.Follower.InUse): from a dump begun
// at most AckFresh ago, against the table just applied; nil when
// conntrack cannot be read.
func (r *Reporter) InUse() []adminapi.InUse {
	s := r.scan(AckFresh, "ack")
	if s == nil {
		return nil
	}
	return r.inUseOf(s)
}

// Report is what to POST to /api/tms/{tm}/report (ok false: conntrack
// cannot be read, report nothing).
func (r *Reporter) Report() (rep adminapi.Report, ok bool) {
	s := r.scan(ReportFresh, "report")
	if s == nil {
		return adminapi.Report{}, false
	}
	return adminapi.Report{Connections: s.Connections, InUse: r.inUseOf(s)}, true
}

// Attach makes f's acks carry the in_use ports (with an SNAT address to
// report on) and f's tables the reporter's: f.Apply still takes each
// table, and the reporter takes it once Apply has.
func (r *Reporter) Attach(f *adminapi.Follower) {
	apply := f.Apply
	f.Apply = func(ev adminapi.Event) error {
		if err := apply(ev); err != nil {
			return err
		}
		r.SetTable(ev.Buckets)
		return nil
	}
	if len(r.Config.SNAT) > 0 {
		f.InUse = r.InUse
	}
}

// Run reports to c every adminapi.ReportInterval until ctx ends
// (adminapi.Client.ReportEvery), nothing while conntrack cannot be read.
func (r *Reporter) Run(ctx context.Context, c *adminapi.Client) {
	c.ReportEvery(ctx, r.TM, r.Report)
}
