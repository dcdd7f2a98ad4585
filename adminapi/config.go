// SPDX-License-Identifier: Apache-2.0

package adminapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// A running controller takes a new config (SIGHUP, or `symdist config
// apply` through the admin API) and applies only the difference; these are
// the requests and answers of that exchange.

// ConfigPlan is what a new config changes. `config plan` prints it before
// anything is written; `config apply` returns the plan it carried out.
type ConfigPlan struct {
	Applied bool `json:"applied"`
	// NoTables: this controller holds no current bucket table (it is a
	// backup, or reached no switch), so the buckets that move are not
	// known here; the config still replaces the running one on apply, and
	// the tables are adopted from the switches under it.
	NoTables bool        `json:"no_tables,omitempty"`
	Groups   []GroupPlan `json:"groups"`
	// Switches whose port roles, flood ports or static L2 entries change.
	Switches []string `json:"switches,omitempty"`
	// Entries is what the config changes on each switch, table by table:
	// the entries it deletes, modifies and inserts (the difference between
	// what the switch must hold under the running config and under this
	// one, right after the apply). Tables that do not change are left
	// out; bucket_table only when the controller holds its tables
	// (NoTables false).
	Entries []TableChange `json:"entries,omitempty"`
	// Warnings are what the change breaks that the plan cannot show in
	// buckets: a TM removed while it still reports open connections.
	Warnings []string `json:"warnings,omitempty"`
	// Where an applied config was saved for the next start, or why not.
	Saved     string `json:"saved,omitempty"`
	SaveError string `json:"save_error,omitempty"`
	// The other controllers of the pair (config: controllers) that run the
	// applied config, and those that did not take it within a few seconds.
	PeersInSync []string `json:"peers_in_sync,omitempty"`
	PeersBehind []string `json:"peers_behind,omitempty"`
}

// GroupPlan is what changes in one group.
type GroupPlan struct {
	Name         string   `json:"name"`
	Change       string   `json:"change,omitempty"` // "added" or "removed"
	RulesAdded   []string `json:"rules_added,omitempty"`
	RulesRemoved []string `json:"rules_removed,omitempty"`
	DefaultTM    string   `json:"default_tm_change,omitempty"` // "tm1 -> tm2"
	Buckets      int      `json:"buckets"`
	Moved        int      `json:"moved"` // buckets whose TM changes
	TMs          []TMPlan `json:"tms"`
	Moves        []Move   `json:"moves,omitempty"`
}

// TMPlan is one TM of a group, before and after.
type TMPlan struct {
	Name    string   `json:"name"`
	Changes []string `json:"changes,omitempty"` // e.g. "added", "removed", "weight 1 -> 3", "health"
	Weight  int      `json:"weight"`
	Before  int      `json:"buckets_before"`
	After   int      `json:"buckets_after"`
	Gained  int      `json:"gained"`
	Lost    int      `json:"lost"`
	// AwaitsHealth: a new TM with a health check gets its buckets once
	// the check has passed rise times; After and Moves count them.
	AwaitsHealth bool `json:"awaits_health,omitempty"`
}

// TableChange is what a config changes in one table of one switch.
type TableChange struct {
	Switch   string `json:"switch"`
	Table    string `json:"table"` // e.g. bucket_table, l2_forward, tm_members
	Deleted  int    `json:"deleted"`
	Modified int    `json:"modified"`
	Inserted int    `json:"inserted"`
	// FirstDeleted describes the first deleted entries, at most
	// MaxListedDeletes of them, in the table's key order.
	FirstDeleted []string `json:"first_deleted,omitempty"`
}

// MaxListedDeletes bounds TableChange.FirstDeleted.
const MaxListedDeletes = 5

// Move is how many buckets go from one TM to another ("" is no TM).
type Move struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Buckets int    `json:"buckets"`
}

// RejectedError is a config that cannot be applied; nothing changed.
type RejectedError struct {
	Errors []string // each file:line: field: problem
}

func (e *RejectedError) Error() string {
	return "config rejected, nothing changed:\n" + strings.Join(e.Errors, "\n")
}

// ConfigRequest is the body of POST /api/config/plan and /apply: JSON, so
// that a browser cannot send it cross-site without a preflight.
type ConfigRequest struct {
	Name   string `json:"name"`   // the file's name, for errors
	Config string `json:"config"` // the YAML
}

// PlanConfig asks the controller what the config data (a file called name)
// would change; nothing is written. A config the controller refuses comes
// back as a *RejectedError.
func (c *Client) PlanConfig(ctx context.Context, name string, data []byte) (*ConfigPlan, error) {
	return c.sendConfig(ctx, "/api/config/plan", name, data)
}

// ApplyConfig makes the controller apply the config data (a file called
// name) and returns the plan it carried out. A config the controller
// refuses comes back as a *RejectedError; nothing changed then.
func (c *Client) ApplyConfig(ctx context.Context, name string, data []byte) (*ConfigPlan, error) {
	return c.sendConfig(ctx, "/api/config/apply", name, data)
}

func (c *Client) sendConfig(ctx context.Context, path, name string, data []byte) (*ConfigPlan, error) {
	var p ConfigPlan
	if err := c.Do(ctx, http.MethodPost, path, ConfigRequest{Name: name, Config: string(data)}, &p); err != nil {
		var he *HTTPError
		if errors.As(err, &he) && len(he.Errors) > 0 {
			return nil, &RejectedError{Errors: he.Errors}
		}
		return nil, err
	}
	return &p, nil
}
