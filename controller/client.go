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
	URL    string
	Code   int
	Status string
	Msg    string // the API's error message, if any
}

func (e *HTTPError) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("GET %s: %s: %s", e.URL, e.Status, e.Msg)
	}
	return fmt.Sprintf("GET %s: %s", e.URL, e.Status)
}

func (c *Client) get(ctx context.Context, path string, v any) error {
	u := strings.TrimRight(c.URL, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
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
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		return &HTTPError{URL: u, Code: resp.StatusCode, Status: resp.Status, Msg: e.Error}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
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
