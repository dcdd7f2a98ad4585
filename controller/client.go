package controller

import (
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
	Method string // "" means GET
	URL    string
	Code   int
	Status string
	Msg    string // the API's error message, if any
}

func (e *HTTPError) Error() string {
	method := e.Method
	if method == "" {
		method = http.MethodGet
	}
	if e.Msg != "" {
		return fmt.Sprintf("%s %s: %s: %s", method, e.URL, e.Status, e.Msg)
	}
	return fmt.Sprintf("%s %s: %s", method, e.URL, e.Status)
}

func (c *Client) get(ctx context.Context, path string, v any) error {
	return c.do(ctx, http.MethodGet, path, v)
}

// do sends a request without a body and decodes the JSON answer into v.
// A request that changes state says Content-Type: application/json, as
// the admin API requires of it (adminguard.go).
func (c *Client) do(ctx context.Context, method, path string, v any) error {
	u := strings.TrimRight(c.URL, "/") + path
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		he := &HTTPError{URL: u, Code: resp.StatusCode, Status: resp.Status, Msg: e.Error}
		if method != http.MethodGet {
			he.Method = method
		}
		return he
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	return nil
}

// Drain takes TM tm out of service (drain=true) or puts it back.
func (c *Client) Drain(ctx context.Context, tm string, drain bool) error {
	action := "undrain"
	if drain {
		action = "drain"
	}
	var answer struct {
		TM      string `json:"tm"`
		Drained bool   `json:"drained"`
	}
	return c.do(ctx, http.MethodPost, "/api/tms/"+url.PathEscape(tm)+"/"+action, &answer)
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
