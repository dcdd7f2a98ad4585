package controller

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client reads a controller's admin API: `symdist status`, `symdist ports`
// and `symdist tm` use it.
type Client struct {
	URL   string // e.g. http://127.0.0.1:9090
	Token string // bearer token; empty: none
	// HTTP is the client; nil: one with a 5 s timeout.
	HTTP *http.Client
}

// HTTPError is an answer other than 200 OK.
type HTTPError struct {
	Method string // "" is GET
	URL    string
	Code   int
	Status string
	Msg    string // the API's error message, if any
}

func (e *HTTPError) Error() string {
	method := cmp.Or(e.Method, http.MethodGet)
	if e.Msg != "" {
		return fmt.Sprintf("%s %s: %s: %s", method, e.URL, e.Status, e.Msg)
	}
	return fmt.Sprintf("%s %s: %s", method, e.URL, e.Status)
}

func (c *Client) get(ctx context.Context, path string, v any) error {
	return c.call(ctx, http.MethodGet, path, nil, v)
}

// call sends body (JSON; nil: none) and decodes a 200 answer into v. A
// config the controller rejected comes back as a *RejectedError, other
// answers as an *HTTPError.
func (c *Client) call(ctx context.Context, method, path string, body, v any) error {
	u := strings.TrimRight(c.URL, "/") + path
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	// Every request that changes state says Content-Type: application/json,
	// as the admin API requires of it (adminguard.go), body or not.
	if body != nil || method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
		if method != http.MethodGet {
			hc.Timeout = 30 * time.Second // a reload plans every group's table
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error  string   `json:"error"`
			Errors []string `json:"errors"`
		}
		_ = json.Unmarshal(answer, &e)
		if len(e.Errors) > 0 {
			return &RejectedError{Errors: e.Errors}
		}
		return &HTTPError{Method: method, URL: u, Code: resp.StatusCode, Status: resp.Status, Msg: e.Error}
	}
	if err := json.Unmarshal(answer, v); err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	return nil
}

// Status is GET /api/status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	return st, c.get(ctx, "/api/status", &st)
}

// BucketsOf returns the bucket table of the group of TM tm.
func (c *Client) BucketsOf(ctx context.Context, tm string) (BucketTable, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return BucketTable{}, err
	}
	group := ""
	for _, g := range st.Groups {
		for _, t := range g.TMs {
			if t.Name == tm {
				group = g.Name
			}
		}
	}
	if group == "" {
		return BucketTable{}, fmt.Errorf("the controller at %s has no TM %q", c.URL, tm)
	}
	var bt BucketTable
	if err := c.get(ctx, "/api/groups/"+url.PathEscape(group)+"/buckets", &bt); err != nil {
		return BucketTable{}, err
	}
	if bt.Group == "" {
		bt.Group = group
	}
	return bt, nil
}
