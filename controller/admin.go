// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/symdist/symdist/desired"
	"github.com/symdist/symdist/internal/connlimit"
	"github.com/symdist/symdist/internal/limitlog"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/webui"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminBounds bound what one peer can make the admin API hold: a
// connection's header, body, answer and idle time, its header size, and
// the connections open at once (past maxConns, or perPeer from one
// address, a new one is reset: one client cannot take them all). Watch
// streams last: their handler lifts the read deadline and extends the
// write deadline by write before every line (serveWatch).
type adminBounds struct {
	readHeader, read, write, idle time.Duration
	maxHeader, maxConns, perPeer  int
	ping                          time.Duration // between a watch stream's pings (adminapi.PingInterval)
}

// defaultAdminBounds leave a loaded controller time to answer and keep
// far fewer descriptors than the usual limits for the switch sessions:
// every TM holds one watch stream and makes a request now and then.
var defaultAdminBounds = adminBounds{readHeader: 5 * time.Second, read: 30 * time.Second, write: 30 * time.Second,
	idle: time.Minute, maxHeader: 64 << 10, maxConns: 1024, perPeer: 256, ping: adminapi.PingInterval}

// Reasons the admin API refuses a peer, the label of
// symdist_admin_refused_total.
const (
	refusedConnLimit    = "connection_limit" // past adminBounds.maxConns or perPeer
	refusedUnauthorized = "unauthorized"     // missing or wrong token
	refusedBadBody      = "bad_body"         // not one strict JSON value of the type, or too large
	refusedStaleAck     = "stale_ack"        // an ack lower than the subscriber's last
)

// adminRefusals counts and logs (once per peer per interval) the admin
// API's refusals.
type adminRefusals struct {
	count *prometheus.CounterVec
	lim   *limitlog.Limiter
}

func newAdminRefusals(reg *prometheus.Registry) *adminRefusals {
	a := &adminRefusals{
		count: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "symdist_admin_refused_total",
			Help: "Admin API connections or requests refused, by reason: connection_limit, unauthorized, bad_body, stale_ack.",
		}, []string{"reason"}),
		lim: limitlog.New(connlimit.LogInterval),
	}
	for _, r := range []string{refusedConnLimit, refusedUnauthorized, refusedBadBody, refusedStaleAck} {
		a.count.WithLabelValues(r)
	}
	reg.MustRegister(a.count)
	return a
}

// refuse counts a refused request of r and logs it once per peer and
// reason per interval.
func (c *Controller) refuse(r *http.Request, reason string, err error) {
	c.refusals.count.WithLabelValues(reason).Inc()
	peer := r.RemoteAddr
	if host, _, e := net.SplitHostPort(peer); e == nil {
		peer = host
	}
	c.refusals.lim.Log(c.log, slog.LevelWarn, peer+" "+reason, "admin API request refused",
		"peer", peer, "reason", reason, "method", r.Method, "path", r.URL.Path, "err", err)
}

// Status reports the state of switches, groups and TMs.
func (c *Controller) Status() adminapi.Status {
	var st adminapi.Status
	c.mu.Lock()
	gen := c.gen
	v := c.viewLocked()
	for gi := range c.cfg.Groups {
		g := &c.cfg.Groups[gi]
		counts := c.counts.of(g.Name, v.Buckets[g.Name])
		gs := adminapi.GroupStatus{Name: g.Name, ID: g.ID, DefaultTM: desired.DefaultTM(c.cfg, g, v).Name}
		for _, tm := range c.cfg.TMsOf(g.Name) {
			ts := adminapi.TMStatus{Name: tm.Name, ID: tm.ID, Weight: tm.Weight,
				Healthy: c.healthy[tm.Name].up, Drained: c.drained[tm.Name], Buckets: counts[tm.Name]}
			if r, ok := c.reports[tm.Name]; ok && time.Since(r.at) < adminapi.ReportStale {
				n := r.connections
				ts.Connections = &n
			}
			gs.TMs = append(gs.TMs, ts)
		}
		st.Groups = append(st.Groups, gs)
	}
	c.mu.Unlock()
	for _, sw := range c.switches {
		sw.mu.Lock()
		st.Switches = append(st.Switches, adminapi.SwitchStatus{Name: sw.cfg.Name, Address: sw.cfg.Address,
			Connected: sw.connected, Primary: sw.primary, InSync: sw.primary && sw.synced && sw.syncedGen == gen,
			LastSync: sw.lastSync, LastError: sw.lastErr, LastWritten: sw.written})
		sw.mu.Unlock()
	}
	return st
}

// Handler is the admin API:
//
//	GET  /api/status                 switches, groups, TMs (JSON)
//	GET  /api/groups/{group}/buckets the group's bucket table: owner per bucket
//	POST /api/tms/{tm}/report        what a TM says of itself (open connections)
//	POST /api/tms/{tm}/drain         take a TM out of service (421 on a backup: pair.go)
//	POST /api/tms/{tm}/undrain       put it back
//	POST /api/config/plan            what a new config would change (reload.go)
//	POST /api/config/apply           apply a new config (reload.go)
//	POST /api/tms/{tm}/weight        {"weight": N}: change its weight (watch.go)
//	GET  /api/watch?tm=|group=       the bucket-table watch (docs/tmapi.md)
//	POST /api/watch/{id}/ack         {"version": N}: a watcher applied it
//	GET  /metrics                    Prometheus
//	GET  /, /ui/                     the web page (package webui; read-only)
//
// With a token, every request needs "Authorization: Bearer <token>".
// Without one as with one, requests must pass adminGuard (Host, Origin,
// Content-Type: see adminguard.go).
func (c *Controller) Handler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.Status())
	})
	mux.HandleFunc("GET /api/groups/{group}/buckets", func(w http.ResponseWriter, r *http.Request) {
		b, err := c.Buckets(r.PathValue("group"))
		switch {
		case errors.Is(err, ErrUnknownGroup):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		default:
			chains, peers := c.Chains(r.PathValue("group"))
			writeJSON(w, http.StatusOK, adminapi.BucketTable{Group: r.PathValue("group"), Buckets: b, Chains: chains, Peers: peers,
				Held: c.Held(r.PathValue("group"))})
		}
	})
	drain := func(on bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if err := c.Drain(r.PathValue("tm"), on); err != nil {
				code := http.StatusNotFound
				if errors.Is(err, ErrBackup) {
					code = http.StatusConflict
				}
				writeJSON(w, code, map[string]string{"error": err.Error()})
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"tm": r.PathValue("tm"), "drained": on})
		}
	}
	mux.HandleFunc("POST /api/tms/{tm}/report", c.serveReport)
	mux.HandleFunc("POST /api/tms/{tm}/drain", drain(true))
	mux.HandleFunc("POST /api/tms/{tm}/undrain", drain(false))
	c.handleConfig(mux)
	c.watchRoutes(mux)
	c.pairRoutes(mux)
	c.pageRoutes(mux) // the web page at /: its assets need no token (page.go)
	c.metrics.reg.MustRegister(counterCollector{c})
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.metrics.reg, promhttp.HandlerOpts{}))
	cfg := c.current() // a peer's config may be being applied (pair.go)
	guarded := guardAdmin(c.pairGuard(mux), cfg.Admin.Listen, cfg.Admin.Hosts)
	if token == "" {
		return guarded
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) != 1 && !webui.Public(r) {
			c.refuse(r, refusedUnauthorized, errors.New("missing or wrong bearer token"))
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ServeAdmin serves the admin API on the config's address until ctx ends,
// within adminBounds.
func (c *Controller) ServeAdmin(ctx context.Context, ln net.Listener) error {
	b := c.adminBounds
	srv := &http.Server{Handler: c.Handler(c.current().Admin.Token),
		ReadHeaderTimeout: b.readHeader, ReadTimeout: b.read, WriteTimeout: b.write, IdleTimeout: b.idle,
		MaxHeaderBytes: b.maxHeader}
	ln = connlimit.New(ln, connlimit.Config{Max: b.maxConns, MaxPerPeer: b.perPeer, Name: "admin API", Log: c.log,
		Refused: c.refusals.count.WithLabelValues(refusedConnLimit).Inc})
	srv.RegisterOnShutdown(c.closeWatches)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// tmReport is a TM's last report and when it came.
type tmReport struct {
	connections int64
	at          time.Time
}

// serveReport takes a TM's report (adminapi.Report).
func (c *Controller) serveReport(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Connections *int64           `json:"connections"` // adminapi.Report, required
		InUse       []adminapi.InUse `json:"in_use"`
	}
	if err := c.readJSONMax(w, r, &body, maxInUseBody); err != nil {
		return
	}
	if body.Connections == nil {
		c.badBody(w, r, errors.New(`body: want {"connections": N}`))
		return
	}
	if *body.Connections < 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "connections must be 0 or more"})
		return
	}
	name := r.PathValue("tm")
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.TM(name) == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no TM %q", name)})
		return
	}
	if err := c.noteInUseLocked(name, body.InUse); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if c.reports == nil {
		c.reports = map[string]tmReport{}
	}
	c.reports[name] = tmReport{connections: *body.Connections, at: time.Now()}
	writeJSON(w, http.StatusOK, map[string]any{"tm": name})
}
