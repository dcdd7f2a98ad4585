// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/webui"
	"gopkg.in/yaml.v3"
)

// The controller pair (docs/design.md, "The controller pair"). The
// switches' election picks the primary; around it:
//
//   - a backup answers every request that needs the primary with
//     adminapi.StatusNotPrimary and the primary's URL (pairGuard), so
//     clients given both URLs follow the primary by themselves;
//   - each controller asks the others of config.Controllers what they are
//     (GET /api/pair) every pairPoll: who is primary, which TMs have a
//     watch open there, and which config it runs;
//   - of two configs the later applied wins: a controller that sees a peer
//     run a newer one takes it (keeping its own election_id and admin), so
//     a change applied to either reaches both, and an apply waits (up to
//     pairSyncWait) until the peers hold it;
//   - a controller that becomes primary waits, for each loss, for the TMs
//     that had a watch open on the old primary, as if they were still
//     subscribed, until they subscribe here or handover_timeout passes;
//   - a controller that stops being primary ends its watch streams, so the
//     TMs follow the new primary.

// Pair timing.
const (
	// pairPoll is how often a controller asks its peers what they are.
	pairPoll = 250 * time.Millisecond
	// pairStale: a peer not heard from for this long is not counted (its
	// subscribers are not awaited, applies do not wait for it).
	pairStale = 10 * time.Second
	// expectWindow bounds how long after a takeover the old primary's
	// subscribers are awaited at all (each loss waits handover_timeout at
	// most).
	expectWindow = 10 * time.Second
	// pairSyncWait bounds how long an apply waits for the peers to take it.
	pairSyncWait = 3 * time.Second // under the clients' 5 s timeout
)

// pairState is guarded by Controller.mu.
type pairState struct {
	instance string
	role     string // as of the last notePairRole
	self     string // this controller's URL in config.Controllers, once found
	peers    map[string]peerSeen
	// expected: TMs that had a watch on the old primary, awaited until then.
	expected map[string]time.Time
	// streams: watch streams open here, ended when this controller stops
	// being primary.
	streams map[uint64]context.CancelFunc
	lastStr uint64

	loaded  bool
	raw     []byte // the running config as applied
	rawName string
	stamp   adminapi.ConfigStamp
	refused string // sha256 of a peer's config this controller refused

	splitSince time.Time // since when this controller's primaries are split (split.go)
}

type peerSeen struct {
	pair adminapi.Pair
	at   time.Time
}

func newInstance() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// role is what this controller is now: primary on a switch, backup
// (reaches switches, primary on none) or alone (reaches none).
func (c *Controller) role() string {
	connected, primary := false, false
	for _, sw := range c.switches {
		sw.mu.Lock()
		connected = connected || sw.connected
		primary = primary || sw.primary
		sw.mu.Unlock()
	}
	switch {
	case primary:
		return adminapi.RolePrimary
	case connected:
		return adminapi.RoleBackup
	}
	return adminapi.RoleAlone
}

// primaryURLLocked is the primary's URL as this controller knows it.
func (c *Controller) primaryURLLocked() string {
	if c.pair.role == adminapi.RolePrimary {
		return c.pair.self
	}
	best, at := "", time.Time{}
	for u, p := range c.pair.peers {
		if p.pair.Role == adminapi.RolePrimary && time.Since(p.at) < pairStale && p.at.After(at) {
			best, at = u, p.at
		}
	}
	return best
}

// notePairRole follows a change of this controller's role: on becoming
// primary it awaits the old primary's subscribers; on becoming a backup
// it ends its watch streams.
func (c *Controller) notePairRole() {
	r := c.role()
	c.mu.Lock()
	prev := c.pair.role
	c.pair.role = r
	var ends []context.CancelFunc
	switch {
	case r == adminapi.RolePrimary && prev != adminapi.RolePrimary:
		var old *peerSeen
		for _, p := range c.pair.peers {
			if p.pair.Role == adminapi.RolePrimary && time.Since(p.at) < pairStale && (old == nil || p.at.After(old.at)) {
				old = &p
			}
		}
		if old != nil && len(old.pair.Subscribed) > 0 {
			if c.pair.expected == nil {
				c.pair.expected = map[string]time.Time{}
			}
			until := time.Now().Add(expectWindow)
			for _, tm := range old.pair.Subscribed {
				c.pair.expected[tm] = until
			}
			c.log.Info("pair: primary now; losses wait for the TMs that followed the old primary until they subscribe here",
				"tms", old.pair.Subscribed, "for", expectWindow, "each_loss_at_most", c.cfg.Handover())
		}
	case r == adminapi.RoleBackup && prev != adminapi.RoleBackup:
		// From primary, or from reaching no switch (it served watches
		// then): a backup publishes no table, so its watchers must go.
		for id, end := range c.pair.streams {
			ends = append(ends, end)
			delete(c.pair.streams, id)
		}
		if len(ends) > 0 {
			c.log.Info("pair: backup now; ending the watch streams so that TMs follow the primary", "streams", len(ends))
		}
	}
	c.mu.Unlock()
	for _, end := range ends {
		end()
	}
}

// expectingLocked reports whether tm followed the old primary and has not
// subscribed here yet, within expectWindow of the takeover: its losses
// wait for it as for a subscriber that has not acknowledged.
func (c *Controller) expectingLocked(tm string) bool {
	until, ok := c.pair.expected[tm]
	if !ok {
		return false
	}
	if time.Now().After(until) {
		delete(c.pair.expected, tm)
		return false
	}
	for _, s := range c.ho.subs {
		if s.tm == tm {
			delete(c.pair.expected, tm) // it is here: its acks count now
			return false
		}
	}
	return true
}

// pairGuard serves the pair: the role header on every answer; on a
// backup, StatusNotPrimary for every request but status, metrics, config
// plan and apply, and the pair's own; elsewhere, watch streams that end
// when the controller becomes a backup (notePairRole).
func (c *Controller) pairGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		role := c.role()
		w.Header().Set(adminapi.HeaderRole, role)
		if role == adminapi.RoleBackup {
			c.mu.Lock()
			primary := c.primaryURLLocked()
			c.mu.Unlock()
			if primary != "" {
				w.Header().Set(adminapi.HeaderPrimary, primary)
			}
			switch {
			case r.Method == http.MethodGet && (r.URL.Path == "/api/status" || r.URL.Path == "/metrics" ||
				r.URL.Path == "/api/pair" || r.URL.Path == "/api/config/running"):
			case (r.Method == http.MethodGet || r.Method == http.MethodHead) && (webui.Public(r) || r.URL.Path == webui.EventsPath):
				// The page reads only: it shows the backup's view.
			case r.Method == http.MethodPost && (r.URL.Path == "/api/config/plan" || r.URL.Path == "/api/config/apply"):
				// A config applied to the backup reaches the primary too:
				// the later applied config wins in the pair.
			default:
				writeJSON(w, adminapi.StatusNotPrimary, adminapi.NotPrimary{
					Error:   "this controller is a backup: ask the primary",
					Primary: primary,
				})
				return
			}
		}
		if r.Method == http.MethodGet && r.URL.Path == "/api/watch" {
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			c.mu.Lock()
			if c.pair.streams == nil {
				c.pair.streams = map[uint64]context.CancelFunc{}
			}
			c.pair.lastStr++
			id := c.pair.lastStr
			c.pair.streams[id] = cancel
			c.mu.Unlock()
			defer func() {
				c.mu.Lock()
				delete(c.pair.streams, id)
				c.mu.Unlock()
			}()
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

// pairRoutes adds GET /api/pair and GET /api/config/running.
func (c *Controller) pairRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/pair", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.Pair())
	})
	mux.HandleFunc("GET /api/config/running", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.loadOwnLocked()
		rc := adminapi.RunningConfig{Name: c.pair.rawName, Config: string(c.pair.raw), Stamp: c.pair.stamp}
		c.mu.Unlock()
		if rc.Config == "" {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "this controller runs no config file"})
			return
		}
		writeJSON(w, http.StatusOK, rc)
	})
}

// Pair is what this controller tells its peers (GET /api/pair).
func (c *Controller) Pair() adminapi.Pair {
	role := c.role()
	switches := c.pairSwitches()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loadOwnLocked()
	p := adminapi.Pair{Instance: c.pair.instance, Role: role, Config: c.pair.stamp, ElectionID: c.cfg.ElectionID, Switches: switches}
	if role == adminapi.RolePrimary {
		p.Primary = c.pair.self
	} else {
		p.Primary = c.primaryURLLocked()
	}
	seen := map[string]bool{}
	for _, s := range c.ho.subs {
		if s.tm != "" && !seen[s.tm] {
			seen[s.tm] = true
			p.Subscribed = append(p.Subscribed, s.tm)
		}
	}
	slices.Sort(p.Subscribed)
	return p
}

// loadOwnLocked reads the config file once for its text and stamp.
func (c *Controller) loadOwnLocked() {
	if c.pair.loaded || c.rt.configPath == "" {
		return
	}
	c.pair.loaded = true
	data, err := os.ReadFile(c.rt.configPath)
	if err != nil {
		c.log.Warn("pair: cannot read the config file; peers cannot take this controller's config", "error", err)
		return
	}
	c.pair.raw, c.pair.rawName = data, c.rt.configPath
	c.pair.stamp = adminapi.ConfigStamp{SHA256: sharedHash(data)}
	var saved adminapi.ConfigStamp
	if b, err := os.ReadFile(c.rt.configPath + ".applied"); err == nil && json.Unmarshal(b, &saved) == nil && saved.SHA256 == c.pair.stamp.SHA256 {
		c.pair.stamp = saved
	} else if fi, err := os.Stat(c.rt.configPath); err == nil {
		c.pair.stamp.AppliedUnixNano = fi.ModTime().UnixNano() // edited by hand
	}
}

// noteAppliedLocked records the config now running, applied at stamp
// (zero: now), and keeps the stamp beside the config file.
func (c *Controller) noteAppliedLocked(name string, data []byte, at int64) {
	c.loadOwnLocked()
	c.pair.loaded = true
	if at == 0 {
		at = time.Now().UnixNano()
	}
	c.pair.raw, c.pair.rawName = data, name
	c.pair.stamp = adminapi.ConfigStamp{AppliedUnixNano: at, SHA256: sharedHash(data)}
	if c.rt.configPath != "" {
		b, _ := json.Marshal(c.pair.stamp)
		if err := os.WriteFile(c.rt.configPath+".applied", b, 0o600); err != nil {
			c.log.Warn("pair: cannot keep the config's stamp; after a restart the file's time stands for it", "error", err)
		}
	}
}

// sharedHash hashes the part of a config both controllers share: all but
// election_id and admin.
func sharedHash(data []byte) string {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err == nil && len(root.Content) == 1 && root.Content[0].Kind == yaml.MappingNode {
		m := root.Content[0]
		var kept []*yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			if k := m.Content[i].Value; k != "election_id" && k != "admin" {
				kept = append(kept, m.Content[i], m.Content[i+1])
			}
		}
		m.Content = kept
		stripComments(&root)
		if b, err := yaml.Marshal(&root); err == nil {
			data = b
		}
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

func stripComments(n *yaml.Node) {
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	for _, c := range n.Content {
		stripComments(c)
	}
}

// rebase returns a peer's config with this controller's own election_id
// and admin section.
func rebase(peer []byte, own *config.Config) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(peer, &root); err != nil {
		return nil, err
	}
	if len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a YAML mapping")
	}
	m := root.Content[0]
	var id, admin yaml.Node
	if err := id.Encode(own.ElectionID); err != nil {
		return nil, err
	}
	if err := admin.Encode(own.Admin); err != nil {
		return nil, err
	}
	setKey(m, "election_id", &id)
	setKey(m, "admin", &admin)
	return yaml.Marshal(&root)
}

// setKey sets key to v in mapping m, appending it when missing.
func setKey(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

// pairStartup asks the peers once before the switches are reached, so a
// controller that restarts with an older config than its peer's takes the
// newer one before it can become primary (bounded by 2 s).
func (c *Controller) pairStartup(ctx context.Context) {
	if len(c.current().Controllers) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c.pollPeers(ctx)
}

// runPair asks the peers what they are every pairPoll until ctx ends.
func (c *Controller) runPair(ctx context.Context) {
	t := time.NewTicker(pairPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.notePairRole() // a change the switch loops did not report
		c.pollPeers(ctx)
		c.resolveSplit()
	}
}

// pollPeers asks every controller of the list once, and takes a newer
// config from one that runs it.
func (c *Controller) pollPeers(ctx context.Context) {
	cfg := c.current()
	if len(cfg.Controllers) == 0 {
		return
	}
	client := &adminapi.Client{Token: cfg.Admin.Token, HTTP: &http.Client{Timeout: time.Second}}
	for _, u := range cfg.Controllers {
		u = strings.TrimRight(u, "/")
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		p, err := client.Pair(qctx, u)
		cancel()
		if err != nil {
			continue
		}
		c.mu.Lock()
		if p.Instance == c.pair.instance {
			c.pair.self = u
			c.mu.Unlock()
			continue
		}
		if c.pair.peers == nil {
			c.pair.peers = map[string]peerSeen{}
		}
		c.pair.peers[u] = peerSeen{pair: p, at: time.Now()}
		c.loadOwnLocked()
		newer := p.Config.Newer(c.pair.stamp) && p.Config.SHA256 != c.pair.refused
		c.mu.Unlock()
		if newer {
			c.takePeerConfig(ctx, client, u)
		}
	}
}

// takePeerConfig applies the newer config a peer runs, under this
// controller's own election_id and admin.
func (c *Controller) takePeerConfig(ctx context.Context, client *adminapi.Client, u string) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	rc, err := client.RunningConfig(qctx, u)
	cancel()
	if err != nil {
		c.log.Warn("pair: cannot read the newer config of a peer", "peer", u, "error", err)
		return
	}
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	c.mu.Lock()
	own := c.cfg
	stamp := c.pair.stamp
	c.mu.Unlock()
	if !rc.Stamp.Newer(stamp) {
		return
	}
	data, err := rebase([]byte(rc.Config), own)
	if err == nil {
		_, err = c.reload(rc.Name, data, true, true)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.pair.refused = rc.Stamp.SHA256
		c.log.Error("pair: a peer runs a newer config that this controller refuses; apply a config both can run",
			"peer", u, "error", err)
		return
	}
	c.noteAppliedLocked(rc.Name, data, rc.Stamp.AppliedUnixNano)
	c.log.Info("pair: took the newer config of a peer", "peer", u,
		"applied", time.Unix(0, rc.Stamp.AppliedUnixNano).UTC().Format(time.RFC3339Nano))
}

// waitPeers waits until every peer heard from lately runs the config
// with hash sha, up to pairSyncWait, and says which do and which do not.
func (c *Controller) waitPeers(sha string) (inSync, behind []string) {
	deadline := time.Now().Add(pairSyncWait)
	for {
		inSync, behind = nil, nil
		c.mu.Lock()
		stopped := c.rt.watchCtx != nil && c.rt.watchCtx.Err() != nil // Run ended
		for u, p := range c.pair.peers {
			if time.Since(p.at) > pairStale {
				continue
			}
			if p.pair.Config.SHA256 == sha {
				inSync = append(inSync, u)
			} else {
				behind = append(behind, u)
			}
		}
		c.mu.Unlock()
		if len(behind) == 0 || stopped || time.Now().After(deadline) {
			slices.Sort(inSync)
			slices.Sort(behind)
			return inSync, behind
		}
		time.Sleep(pairPoll / 2)
	}
}

// notePeers adds to a plan whether the peers took the config.
func (c *Controller) notePeers(p *adminapi.ConfigPlan) {
	if p == nil || !p.Applied {
		return
	}
	c.mu.Lock()
	sha := c.pair.stamp.SHA256
	n := len(c.cfg.Controllers)
	c.mu.Unlock()
	if n == 0 {
		return
	}
	p.PeersInSync, p.PeersBehind = c.waitPeers(sha)
	if len(p.PeersBehind) > 0 {
		c.log.Warn("pair: peers have not taken the applied config yet", "peers", p.PeersBehind, "waited", pairSyncWait)
	}
}

func (c *Controller) noteApplied(name string, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noteAppliedLocked(name, data, 0)
}

// pairOwn makes a config given to a controller of the pair its own: one
// file serves both controllers (`config apply` to either, or the other
// controller taking it), so its election_id and admin section are this
// controller's whatever the file says. Outside a pair (the running config
// or the file lists no controllers) the file is taken as it is, and a
// different election_id or admin is refused as before.
func (c *Controller) pairOwn(data []byte) []byte {
	own := c.current()
	if len(own.Controllers) == 0 {
		return data
	}
	next, err := config.Parse("config", data)
	if err != nil || len(next.Controllers) == 0 ||
		(next.ElectionID == own.ElectionID && reflect.DeepEqual(next.Admin, own.Admin)) {
		return data // refused at its own lines, or already this controller's
	}
	out, err := rebase(data, own)
	if err != nil {
		return data
	}
	return out
}
