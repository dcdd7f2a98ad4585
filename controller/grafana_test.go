// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/symdist/symdist/controller"
	"github.com/symdist/symdist/test/testbed"
	"github.com/symdist/symdist/tm"
)

// dashboard is the Grafana dashboard that docs/operations.md points to.
const dashboard = "../examples/grafana/symdist.json"

// Issue 22: every metric the dashboard queries is one that a running
// controller's /metrics (or a reference TM's, for the TM panels) exports.
func TestGrafanaDashboardMetrics(t *testing.T) {
	exprs := dashboardExprs(t, dashboard)
	if len(exprs) < 20 {
		t.Fatalf("%s: %d queries, want the whole dashboard", dashboard, len(exprs))
	}
	exported := controllerMetrics(t)
	for name, kind := range tmMetrics(t) {
		exported[name] = kind
	}
	if missing := unexported(exprs, exported); len(missing) > 0 {
		t.Errorf("%s queries metrics nothing exports:\n%s", dashboard, strings.Join(missing, "\n"))
	}
}

// The check fails a dashboard that queries a metric nobody exports.
func TestGrafanaCheckFails(t *testing.T) {
	exported := map[string]dto.MetricType{"symdist_tm_up": dto.MetricType_GAUGE, "symdist_reprogram_seconds": dto.MetricType_HISTOGRAM}
	exprs := []string{
		`sum(symdist_tm_up)`,
		`histogram_quantile(0.5, sum by (le) (rate(symdist_reprogram_seconds_bucket[5m])))`,
		`symdist_tm_buckets_typo / on (group) group_left () symdist_tm_up`,
		`rate(symdist_tm_up_count[1m])`, // a gauge has no _count
	}
	want := []string{
		"symdist_tm_buckets_typo (in: symdist_tm_buckets_typo / on (group) group_left () symdist_tm_up)",
		"symdist_tm_up_count (in: rate(symdist_tm_up_count[1m]))",
	}
	if diff := cmp.Diff(want, unexported(exprs, exported)); diff != "" {
		t.Errorf("missing (-want +got):\n%s", diff)
	}
}

func TestPromQLMetrics(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`histogram_quantile(0.5, sum by (le) (rate(a_bucket{job=~"$job", x="}"}[$__rate_interval])))`, "a_bucket"},
		{`x / on (group) group_left () sum by (group) (y{job=~"$job"})`, "x y"},
		{`time() - z{job=~"$job"}`, "z"},
		{`rate(m[5m] offset 1h) > bool 0.5e3`, "m"},
		{`sum without (instance) (q) and ignoring (a, b) p or topk(3, r)`, "q p r"},
		{`count_values("v", w) unless avg(v) * -Inf`, "w v"},
		{`sum by (via) (increase(c_total{job=~"$job"}[$__range]))`, "c_total"},
	}
	for _, tt := range tests {
		if got := strings.Join(promqlMetrics(tt.expr), " "); got != tt.want {
			t.Errorf("promqlMetrics(%s) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}

// dashboardExprs returns every PromQL query of a dashboard: the panels'
// targets (in rows too) and the variables' label_values.
func dashboardExprs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var exprs []string
	labelValues := regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,`)
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(x, k)
			}
		case []any:
			for _, x := range v {
				walk(x, key)
			}
		case string:
			switch {
			case key == "expr":
				exprs = append(exprs, v)
			case key == "definition" || key == "query":
				if m := labelValues.FindStringSubmatch(v); m != nil {
					exprs = append(exprs, m[1])
				}
			}
		}
	}
	walk(d, "")
	sort.Strings(exprs)
	return exprs
}

// unexported lists the metrics exprs query that exported lacks, each with
// the query it is in.
func unexported(exprs []string, exported map[string]dto.MetricType) []string {
	var missing []string
	for _, e := range exprs {
		for _, name := range promqlMetrics(e) {
			if _, ok := exported[name]; ok {
				continue
			}
			if base, ok := histogramBase(name); ok {
				if k, ok := exported[base]; ok && (k == dto.MetricType_HISTOGRAM || k == dto.MetricType_SUMMARY) {
					continue
				}
			}
			missing = append(missing, fmt.Sprintf("%s (in: %s)", name, e))
		}
	}
	return slices.Compact(missing)
}

func histogramBase(name string) (string, bool) {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			return base, true
		}
	}
	return "", false
}

// PromQL words that are not metric names.
var promqlWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true,
	// aggregations: followed by "by (...)" as often as by "("
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true,
}

// promqlMetrics returns the metric names a PromQL expression selects, in
// order: the identifiers that are not functions, keywords, label lists,
// label matchers, ranges, strings, numbers or Grafana variables.
func promqlMetrics(expr string) []string {
	var names []string
	isStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isPart := func(c byte) bool { return isStart(c) || c >= '0' && c <= '9' }
	skipTo := func(i int, end byte) int { // past the end byte, minding strings
		for i < len(expr) && expr[i] != end {
			if q := expr[i]; q == '"' || q == '\'' || q == '`' {
				for i++; i < len(expr) && expr[i] != q; i++ {
					if expr[i] == '\\' {
						i++
					}
				}
			}
			i++
		}
		return i + 1
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipTo(i+1, c)
		case c == '{':
			i = skipTo(i+1, '}')
		case c == '[':
			i = skipTo(i+1, ']')
		case c == '$': // a Grafana variable
			for i++; i < len(expr) && isPart(expr[i]); i++ {
			}
		case c >= '0' && c <= '9' || c == '.':
			for ; i < len(expr) && (isPart(expr[i]) || expr[i] == '.'); i++ {
			}
		case isStart(c):
			j := i
			for ; j < len(expr) && isPart(expr[j]); j++ {
			}
			word := expr[i:j]
			k := j
			for ; k < len(expr) && expr[k] == ' '; k++ {
			}
			call := k < len(expr) && expr[k] == '('
			lower := strings.ToLower(word)
			switch {
			case call && (lower == "by" || lower == "without" || lower == "on" || lower == "ignoring" || lower == "group_left" || lower == "group_right"):
				j = skipTo(k+1, ')') // a label list
			case call, promqlWords[lower]:
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
	}
	return names
}

// controllerMetrics runs a controller on software switches and collects
// every metric its registry can export, with the kinds of those it has.
func controllerMetrics(t *testing.T) map[string]dto.MetricType {
	l := newLab(t)
	c, _ := runController(t, l.config(t, 10))
	srv := httptest.NewServer(c.Handler("")) // registers the switch counters
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.RunAudit(ctx, time.Hour, nil) // registers the audit's metrics, returns at once
	testbed.Eventually(t, "initial programming", 10*time.Second, func() bool { return inSync(c) })

	reg := controller.Registry(c)
	names := map[string]dto.MetricType{}
	ch := make(chan *prometheus.Desc)
	go func() { reg.Describe(ch); close(ch) }()
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range ch {
		if m := fq.FindStringSubmatch(d.String()); m != nil {
			names[m[1]] = dto.MetricType_UNTYPED // kind unknown until it has a value
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		names[mf.GetName()] = mf.GetType()
		if mf.GetName() == "symdist_tm_buckets" { // the status, exported
			sum := 0.0
			for _, m := range mf.GetMetric() {
				sum += m.GetGauge().GetValue()
			}
			if len(mf.GetMetric()) != 3 || sum != 4096 {
				t.Errorf("symdist_tm_buckets: %d TMs with %v buckets in all, want 3 with 4096", len(mf.GetMetric()), sum)
			}
		}
	}
	for _, want := range []string{"symdist_tm_up", "symdist_tm_buckets", "symdist_handover_timeouts_total", "symdist_verify_problems", "symdist_tm_packets_total"} {
		if _, ok := names[want]; !ok {
			t.Fatalf("the controller's registry lacks %s: %v", want, names)
		}
	}
	return names
}

// tmMetrics is what a reference TM (symdist tm) serves on /metrics.
func tmMetrics(t *testing.T) map[string]dto.MetricType {
	s, err := tm.New(tm.Config{Name: "tm1", Listen: []string{"127.0.0.1:0"}, Backends: []string{"127.0.0.1:1"}, SNAT: "127.0.0.1", KernelPorts: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	names := map[string]dto.MetricType{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			names[f[2]] = dto.MetricType(dto.MetricType_value[strings.ToUpper(f[3])])
		}
	}
	if _, ok := names["symdist_tm_self_port_occupancy_ratio"]; !ok {
		t.Fatalf("a TM's /metrics lacks symdist_tm_self_port_occupancy_ratio: %v", names)
	}
	return names
}

// The dashboard imports: unique panel ids, every panel within the 24
// columns and none over another, every query with a data source and a
// refId unique in its panel.
func TestGrafanaDashboardLayout(t *testing.T) {
	b, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	type gridPos struct{ H, W, X, Y int }
	var d struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			ID         int     `json:"id"`
			Type       string  `json:"type"`
			Title      string  `json:"title"`
			GridPos    gridPos `json:"gridPos"`
			Datasource any     `json:"datasource"`
			Targets    []struct {
				RefID      string `json:"refId"`
				Expr       string `json:"expr"`
				Datasource any    `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q", d.UID, d.Title)
	}
	ids := map[int]bool{}
	cells := map[[2]int]string{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := cells[[2]int{x, y}]; ok {
					t.Fatalf("panel %q overlaps %q at %d,%d", p.Title, other, x, y)
				}
				cells[[2]int{x, y}] = p.Title
			}
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || len(p.Targets) == 0 {
			t.Errorf("panel %q: no data source or no query", p.Title)
		}
		refs := map[string]bool{}
		for _, q := range p.Targets {
			if q.Expr == "" || q.RefID == "" || refs[q.RefID] || q.Datasource == nil {
				t.Errorf("panel %q: query %+v", p.Title, q)
			}
			refs[q.RefID] = true
		}
	}
}

// Prometheus's own parser takes every query of the dashboard (Grafana's
// variables replaced) and the example scrape config, where promtool is
// installed (Debian's prometheus package).
func TestGrafanaPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found: apt-get install prometheus (Debian)")
	}
	vars := strings.NewReplacer("$__rate_interval", "1m", "$__range", "1h", "$job", ".*", "$tm_job", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range dashboardExprs(t, dashboard) {
		q, _ := json.Marshal(vars.Replace(e)) // a JSON string is a YAML string
		fmt.Fprintf(&rules, "      - record: dashboard:query%d\n        expr: %s\n", i, q)
	}
	file := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", "rules", file}, {"check", "config", "--syntax-only", "../examples/grafana/prometheus.yml"}} {
		if out, err := exec.Command(promtool, args...).CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
