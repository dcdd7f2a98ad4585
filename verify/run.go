// SPDX-License-Identifier: Apache-2.0

package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/symdist/symdist/health"

	"github.com/symdist/symdist/p4rt"

	"github.com/symdist/symdist/adminapi"

	"github.com/symdist/symdist/config"
	"google.golang.org/grpc"
)

// Target is a switch to read.
type Target struct {
	Name     string // the config's name, or the address
	Address  string
	DeviceID uint64
	TLS      *config.TLS // as the controller's config has it; nil: plaintext
}

// Targets are the switches of a config.
func Targets(cfg *config.Config) []Target {
	var ts []Target
	for _, sw := range cfg.Switches {
		ts = append(ts, Target{Name: sw.Name, Address: sw.Address, DeviceID: sw.DeviceID, TLS: sw.TLS})
	}
	return ts
}

// ReadTarget dials a switch and reads it (Read); the connection is closed
// before it returns.
func ReadTarget(ctx context.Context, t Target) (*Snapshot, error) {
	opts, err := p4rt.DialOptions(t.TLS)
	if err != nil {
		return nil, fmt.Errorf("switch %s: TLS: %w", t.Name, err)
	}
	conn, err := grpc.NewClient(t.Address, opts...)
	if err != nil {
		return nil, fmt.Errorf("switch %s: %w", t.Name, err)
	}
	defer conn.Close()
	return Read(ctx, conn, t.Name, t.Address, t.DeviceID)
}

// StateOptions says what verify state reads and what it holds it against.
type StateOptions struct {
	Config  *config.Config // nil: only the checks that need no config
	Targets []Target       // the switches; default: every switch of Config
	// Controller is the admin API to take TM health and the intended
	// bucket tables from; nil: none.
	Controller *adminapi.Client
	// Health probes every TM once as configured to know which are up
	// (when there is no Controller).
	Health bool
}

// State reads every target and checks it. An error means a switch could
// not be checked (unreachable, wrong device id, another program) or the
// controller could not be asked.
func State(ctx context.Context, o StateOptions) (*StateReport, error) {
	targets := o.Targets
	if targets == nil && o.Config != nil {
		targets = Targets(o.Config)
	}
	if len(targets) == 0 {
		return nil, errors.New("no switch to verify: give a config or a switch")
	}
	snaps := make([]*Snapshot, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { snaps[i], errs[i] = ReadTarget(ctx, t) })
	}
	wg.Wait()
	if err := joinErrors(errs); err != nil {
		return nil, err
	}
	exp := Expect{Config: o.Config}
	var err error
	switch {
	case o.Controller != nil:
		exp.Up, exp.Buckets, err = fromController(ctx, o.Controller)
		exp.UpSource = UpFromController
	case o.Health && o.Config != nil:
		exp.Up, exp.UpSource = probeAll(ctx, o.Config), UpFromHealth
	}
	if err != nil {
		return nil, err
	}
	return Check(exp, snaps), nil
}

// joinErrors is the errors that are not nil, on one line.
func joinErrors(errs []error) error {
	var msgs []string
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "; "))
}

// fromController asks a controller's admin API which TMs are up (healthy
// and not drained) and for its bucket tables.
func fromController(ctx context.Context, c *adminapi.Client) (map[string]bool, map[string][]string, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("controller: %w", err)
	}
	up, buckets := map[string]bool{}, map[string][]string{}
	for _, g := range st.Groups {
		for _, tm := range g.TMs {
			up[tm.Name] = tm.Healthy && !tm.Drained
		}
		bt, err := c.Buckets(ctx, g.Name)
		var he *adminapi.HTTPError
		if errors.As(err, &he) && he.Code == http.StatusServiceUnavailable {
			continue // not computed yet: no switch reached
		}
		if err != nil {
			return nil, nil, fmt.Errorf("controller: %w", err)
		}
		buckets[g.Name] = bt.Buckets
	}
	return up, buckets, nil
}

// probeAll runs every TM's health check once, at the same time.
func probeAll(ctx context.Context, cfg *config.Config) map[string]bool {
	up := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, tm := range cfg.TMs {
		wg.Go(func() {
			err := health.Probe(ctx, tm.Health)
			mu.Lock()
			up[tm.Name] = err == nil
			mu.Unlock()
		})
	}
	wg.Wait()
	return up
}

// auditRecheck is how long the audit waits before checking again a
// deployment it found problems in: a reprogramming window passes.
const auditRecheck = 2 * time.Second

// Deployment is what the audit needs of a controller running in this
// process: its config and its view (bucket tables, which TMs are up).
// *controller.Controller has both; verify does not link the daemon.
type Deployment interface {
	Config() *config.Config
	View() (buckets map[string][]string, up map[string]bool)
}

// Auditor is the controller's periodic audit (controller.RunAudit): verify
// state against the controller's own view (its bucket tables and which
// TMs are up). A deployment with problems is checked once more after
// auditRecheck, so that a reprogramming in progress is not reported.
func Auditor(c Deployment, timeout time.Duration) func(ctx context.Context) map[string]int {
	return func(ctx context.Context) map[string]int {
		var counts map[string]int
		for attempt := 0; attempt < 2; attempt++ {
			if attempt > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(auditRecheck):
				}
			}
			counts = audit(ctx, c, timeout)
			problems := 0
			for _, n := range counts {
				problems += n
			}
			if problems == 0 {
				break
			}
		}
		return counts
	}
}

// checkView reads the controller's switches and holds them against its
// own view. With all, a switch that cannot be read is an
// error; otherwise it is left out (nil report when none could be read).
func checkView(ctx context.Context, c Deployment, all bool) (*StateReport, error) {
	cfg := c.Config()
	var snaps []*Snapshot
	for _, t := range Targets(cfg) {
		s, err := ReadTarget(ctx, t)
		if err != nil && all {
			return nil, err
		}
		if err == nil {
			snaps = append(snaps, s)
		}
	}
	if len(snaps) == 0 {
		return nil, nil
	}
	buckets, up := c.View()
	return Check(Expect{Config: cfg, Up: up, UpSource: UpFromController, Buckets: buckets}, snaps), nil
}

// audit checks every switch it can read and counts the problems naming
// each.
func audit(ctx context.Context, c Deployment, timeout time.Duration) map[string]int {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, _ := checkView(ctx, c, false)
	if r == nil {
		return nil
	}
	counts := map[string]int{}
	for _, s := range r.Switches {
		counts[s.Name] = 0
	}
	for _, p := range r.Problems {
		for _, sw := range p.Switches {
			counts[sw]++
		}
	}
	return counts
}

// CheckDeployment is verify state for a deployment whose controller runs
// in this process (the lab): nil when every switch holds what it must, an
// error naming the problems otherwise.
func CheckDeployment(ctx context.Context, c Deployment) error {
	r, err := checkView(ctx, c, true)
	if err != nil || len(r.Problems) == 0 {
		return err
	}
	var lines []string
	for _, p := range r.Problems {
		lines = append(lines, p.String())
	}
	return fmt.Errorf("verify state: %d problems: %s", len(r.Problems), oneLine(lines))
}
