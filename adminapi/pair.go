// SPDX-License-Identifier: Apache-2.0

package adminapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// The controller pair (docs/operations.md, "Upgrading the controller";
// docs/design.md, "The controller pair"): a client is given every
// controller's URL and talks to whichever is primary. A backup answers
// every request that needs the primary with StatusNotPrimary and the
// primary's URL, as far as it knows it (NotPrimary); the client then asks
// that URL, or the next of its list. A client never needs a human to pick.

// StatusNotPrimary (421 Misdirected Request) is a backup's answer to a
// request only the primary serves; the body is a NotPrimary.
const StatusNotPrimary = http.StatusMisdirectedRequest

// HeaderRole is set on every answer of a controller that has a pair:
// "primary" or "backup". GET /api/status is served by a backup too (so
// that an operator can look at it), with this header saying what it is.
const HeaderRole = "Symdist-Role"

// HeaderPrimary is set by a backup on its answers: the primary's URL, as
// far as it knows it.
const HeaderPrimary = "Symdist-Primary"

// Roles in HeaderRole and Pair.
const (
	RolePrimary = "primary"
	RoleBackup  = "backup"
	// RoleAlone: the controller reaches no switch; it serves everything.
	RoleAlone = "alone"
)

// NotPrimary is the body of a StatusNotPrimary answer.
type NotPrimary struct {
	Error string `json:"error"`
	// Primary is the primary controller's admin API URL as this backup
	// last saw it (config: controllers); "" when it does not know one.
	Primary string `json:"primary"`
}

// Pair is what GET /api/pair returns: what one controller of the pair
// tells the other (and tools) about itself.
type Pair struct {
	// Instance identifies one run of a controller (random at start), so
	// that a controller finds itself in its own list of controllers.
	Instance string `json:"instance"`
	Role     string `json:"role"`
	// Primary is the primary's URL as this controller knows it (its own
	// when it is primary and listed).
	Primary string `json:"primary,omitempty"`
	// Subscribed are the TMs with an open watch here.
	Subscribed []string `json:"subscribed,omitempty"`
	// Config is the running config's stamp.
	Config ConfigStamp `json:"config"`
	// ElectionID is the controller's configured election_id (claims may
	// have raised the one it uses): of two controllers each primary of
	// some switches, the lower steps down (controller/split.go).
	ElectionID uint64 `json:"election_id"`
	// Switches is what this controller is to each switch.
	Switches []PairSwitch `json:"switches,omitempty"`
}

// PairSwitch is one switch as a controller of the pair sees it.
type PairSwitch struct {
	Name      string `json:"name"`
	Connected bool   `json:"connected"`
	Primary   bool   `json:"primary"`
}

// ConfigStamp says which config a controller runs: when it was applied
// (anywhere in the pair) and a hash of the part both controllers share
// (all but election_id and admin). Of two configs, the later applied wins.
type ConfigStamp struct {
	AppliedUnixNano int64  `json:"applied_unix_nano"`
	SHA256          string `json:"sha256"`
}

// Newer reports whether s is a different config applied after o.
func (s ConfigStamp) Newer(o ConfigStamp) bool {
	return s.SHA256 != o.SHA256 && s.AppliedUnixNano > o.AppliedUnixNano
}

// RunningConfig is GET /api/config/running: the YAML a controller runs
// (as applied; election_id and admin are its own) and its stamp.
type RunningConfig struct {
	Name   string      `json:"name"`
	Config string      `json:"config"`
	Stamp  ConfigStamp `json:"stamp"`
}

// Pair is GET /api/pair of the controller at u, one of the client's URLs.
func (c *Client) Pair(ctx context.Context, u string) (Pair, error) {
	var p Pair
	return p, c.doAt(ctx, u, http.MethodGet, "/api/pair", nil, &p)
}

// RunningConfig is GET /api/config/running of the controller at u.
func (c *Client) RunningConfig(ctx context.Context, u string) (RunningConfig, error) {
	var rc RunningConfig
	return rc, c.doAt(ctx, u, http.MethodGet, "/api/config/running", nil, &rc)
}

// SplitURLs splits a list of controller URLs: a comma list, spaces around
// the commas ignored, empty items left out.
func SplitURLs(s string) []string {
	var out []string
	for u := range strings.SplitSeq(s, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// URLs are the controllers the client knows (Client.URL split).
func (c *Client) URLs() []string { return SplitURLs(c.URL) }

// primaries remembers, per list of URLs, which one answered as primary
// last, so that the next request goes there first. Keyed by the list, so
// that Client stays a plain struct its users copy and build as literals.
var primaries sync.Map // Client.URL -> string

// order is the URLs to try: the last primary first, then the list.
func (c *Client) order() []string {
	urls := c.URLs()
	if len(urls) > 1 {
		if p, ok := primaries.Load(c.URL); ok {
			if i := slices.Index(urls, p.(string)); i > 0 {
				first := urls[i]
				urls = append([]string{first}, slices.Delete(urls, i, i+1)...)
			}
		}
	}
	return urls
}

func (c *Client) notePrimary(u string) {
	if strings.Contains(c.URL, ",") {
		primaries.Store(c.URL, u)
	}
}

// follow runs try against the client's controllers until one that is not
// a backup answers: a backup's StatusNotPrimary sends it to the primary
// the backup names (from the controllers list of its config, so a client
// given only the backup's URL still gets there), else to the next URL; so
// does a controller that cannot be reached, when there is another. The
// error is the last controller's.
func (c *Client) follow(try func(u string) error) error {
	urls := c.order()
	if len(urls) == 0 {
		return errors.New("no controller URL")
	}
	tried := map[string]bool{}
	var last error
	for len(urls) > 0 {
		u := urls[0]
		urls = urls[1:]
		if tried[u] {
			continue
		}
		tried[u] = true
		err := try(u)
		var he *HTTPError
		switch {
		case errors.As(err, &he) && he.Code == StatusNotPrimary:
			last = err
			if p := strings.TrimRight(he.Primary, "/"); p != "" && !tried[p] {
				urls = append([]string{p}, urls...)
			}
			continue
		case err != nil && len(urls) > 0 && Unreachable(err):
			last = err
			continue
		}
		if err == nil {
			c.notePrimary(u)
		}
		return err
	}
	return last
}

// Unreachable reports whether err means the controller could not be asked
// at all (refused, reset, timed out, no route): another controller may
// answer.
func Unreachable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Code == http.StatusServiceUnavailable || he.Code == http.StatusBadGateway || he.Code == http.StatusGatewayTimeout
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, context.DeadlineExceeded)
}
