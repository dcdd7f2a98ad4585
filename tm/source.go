// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/symdist/symdist/adminapi"
)

// BucketSource gives the bucket table of the TM's group, owner TM name per
// bucket.
type BucketSource interface {
	Fetch(ctx context.Context) (adminapi.BucketTable, error)
	// String names the source in logs and /stats.
	String() string
}

// ControllerSource reads the table from the controller's admin API: it
// finds the group of TM in GET /api/status, then reads
// GET /api/groups/{group}/buckets.
type ControllerSource struct {
	URL   string // e.g. http://10.0.9.1:9090
	Token string // bearer token; empty: none
	TM    string
	// Client is the HTTP client; nil: one with a 5 s timeout.
	Client *http.Client
}

func (s *ControllerSource) String() string { return "controller " + s.URL }

// Fetch returns the bucket table of the TM's group. A controller that is
// not reachable or has no table yet (HTTP 503) is a transient error.
func (s *ControllerSource) Fetch(ctx context.Context) (adminapi.BucketTable, error) {
	c := adminapi.Client{URL: s.URL, Token: s.Token, HTTP: s.Client}
	bt, err := c.BucketsOf(ctx, s.TM)
	var he *adminapi.HTTPError
	var ne net.Error
	if errors.As(err, &he) && he.Code == http.StatusServiceUnavailable || errors.As(err, &ne) {
		return bt, &transientError{err}
	}
	return bt, err
}

// Follow subscribes to the TM's table (GET /api/watch?tm=NAME): apply
// gets every table in order and the table is acknowledged when it returns
// nil (docs/tmapi.md), with inUse's ports. onErr hears failures; Follow
// keeps trying until ctx ends.
func (s *ControllerSource) Follow(ctx context.Context, apply func(adminapi.Event) error, onErr func(error), inUse func() []adminapi.InUse) {
	f := adminapi.Follower{Client: &adminapi.Client{URL: s.URL, Token: s.Token, HTTP: s.Client}, TM: s.TM,
		Apply: apply, OnError: onErr, InUse: inUse}
	f.Run(ctx)
}

// A Follower pushes tables (ControllerSource does): the TM follows it
// instead of polling Fetch. Its acks carry inUse: the self ports the TM
// still uses in buckets it lost.
type Follower interface {
	Follow(ctx context.Context, apply func(adminapi.Event) error, onErr func(error), inUse func() []adminapi.InUse)
}

// FileSource reads a JSON adminapi.BucketTable from a file, again at each
// refresh (so replacing the file changes the table), strictly
// (internal/strictjson: one value, no unknown fields, no duplicate keys, at
// most maxBucketsFile bytes).
type FileSource struct {
	Path string
}

func (s *FileSource) String() string { return "file " + s.Path }

// Fetch reads the file (adminapi.ReadTableFile: bounded, strict, and
// held to the contract).
func (s *FileSource) Fetch(context.Context) (adminapi.BucketTable, error) {
	return adminapi.ReadTableFile(s.Path)
}

// transientError is a fetch that may work if tried again: the controller
// is not reachable yet, or has no bucket table yet (HTTP 503).
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }
