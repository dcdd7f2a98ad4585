// SPDX-License-Identifier: Apache-2.0

package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to a controller's admin API: `symdist status`, `symdist
// ports` and `symdist tm` use it.
type Client struct {
	// URL is the controller's admin API, e.g. http://127.0.0.1:9090, or
	// the controller pair's, separated by commas: then every request goes
	// to whichever is primary (pair.go).
	URL   string
	Token string // bearer token; empty: none
	// HTTP is the client for requests; nil: one with a 5 s timeout.
	// Watch streams use its Transport without the overall timeout.
	HTTP *http.Client
}

// HTTPError is an answer other than 200 OK.
type HTTPError struct {
	Method string // "" means GET
	URL    string
	Code   int
	Status string
	Msg    string   // the API's error message, if any
	Errors []string // a refused config's errors (file:line: field: problem)
	// Primary is the primary's URL in a backup's StatusNotPrimary answer.
	Primary string
}

func (e *HTTPError) Error() string {
	m := e.Method
	if m == "" {
		m = http.MethodGet
	}
	if e.Msg != "" {
		return fmt.Sprintf("%s %s: %s: %s", m, e.URL, e.Status, e.Msg)
	}
	return fmt.Sprintf("%s %s: %s", m, e.URL, e.Status)
}

func (c *Client) newRequest(ctx context.Context, base, method, path string, body any) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(base, "/")+path, r)
	if err != nil {
		return nil, err
	}
	// Every request that changes state says Content-Type: application/json,
	// as the admin API requires of it (controller/adminguard.go), body or not.
	if body != nil || method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	return req, nil
}

// Do sends a request to the admin API (body as JSON, nil: none) and
// decodes a 200 answer into v (nil: ignore it); other answers are an
// *HTTPError. The controller's own calls (config plan and apply) use it.
func (c *Client) Do(ctx context.Context, method, path string, body, v any) error {
	return c.do(ctx, method, path, body, v)
}

// do sends a request to the primary of the client's controllers and
// decodes a 200 answer into v (nil: ignore it). A backup's 200 to a GET
// (/api/status) is kept only when no primary answers; its 200 to a POST
// (a config apply, which the backup passes on) is final.
func (c *Client) do(ctx context.Context, method, path string, body, v any) error {
	backupAnswered := false
	err := c.follow(func(u string) error {
		role, primary, err := c.send(ctx, u, method, path, body, v)
		if err == nil && method == http.MethodGet && role == RoleBackup {
			backupAnswered = true
			return &HTTPError{Code: StatusNotPrimary, Status: "backup", Primary: primary}
		}
		return err
	})
	if err != nil && backupAnswered {
		return nil
	}
	return err
}

// doAt sends a request to the controller at base, primary or not.
func (c *Client) doAt(ctx context.Context, base, method, path string, body, v any) error {
	_, _, err := c.send(ctx, base, method, path, body, v)
	return err
}

// send sends one request to the controller at base and decodes a 200
// answer into v; role and primary are what the answer's headers say.
func (c *Client) send(ctx context.Context, base, method, path string, body, v any) (role, primary string, err error) {
	req, err := c.newRequest(ctx, base, method, path, body)
	if err != nil {
		return "", "", err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	role, primary = resp.Header.Get(HeaderRole), resp.Header.Get(HeaderPrimary)
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return role, primary, fmt.Errorf("%s %s: %w", method, req.URL, err)
	}
	if len(data) > maxBody {
		return role, primary, fmt.Errorf("%s %s: response over %d bytes", method, req.URL, maxBody)
	}
	if err := responseError(req, resp, data); err != nil {
		return role, primary, err
	}
	if v == nil {
		return role, primary, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return role, primary, fmt.Errorf("%s %s: %w", method, req.URL, err)
	}
	return role, primary, nil
}

// maxBody bounds a response: the largest bucket table, or 16 MiB.
const maxBody = max(MaxTableBytes, 16<<20)

// responseError is nil for 200 OK, else an *HTTPError with the API's
// message from the body.
func responseError(req *http.Request, resp *http.Response, body []byte) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var e struct {
		Error   string   `json:"error"`
		Errors  []string `json:"errors"`
		Primary string   `json:"primary"`
	}
	_ = json.Unmarshal(body, &e)
	m := req.Method
	if m == http.MethodGet {
		m = ""
	}
	return &HTTPError{Method: m, URL: req.URL.String(), Code: resp.StatusCode, Status: resp.Status, Msg: e.Error, Errors: e.Errors, Primary: e.Primary}
}

// Status is GET /api/status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	return st, c.do(ctx, http.MethodGet, "/api/status", nil, &st)
}

// Buckets is GET /api/groups/{group}/buckets.
func (c *Client) Buckets(ctx context.Context, group string) (BucketTable, error) {
	var bt BucketTable
	if err := c.do(ctx, http.MethodGet, "/api/groups/"+url.PathEscape(group)+"/buckets", nil, &bt); err != nil {
		return BucketTable{}, err
	}
	if bt.Group == "" {
		bt.Group = group
	}
	if err := bt.Check(); err != nil {
		return BucketTable{}, fmt.Errorf("group %s: %w", group, err)
	}
	return bt, nil
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
	return c.Buckets(ctx, group)
}

// Ack is POST /api/watch/{subscriber}/ack: every table up to version is
// applied.
func (c *Client) Ack(ctx context.Context, subscriber string, version uint64) error {
	return c.AckInUse(ctx, subscriber, version, nil)
}

// AckInUse is Ack with the ports the TM still uses in buckets it lost.
func (c *Client) AckInUse(ctx context.Context, subscriber string, version uint64, inUse []InUse) error {
	return c.do(ctx, http.MethodPost, "/api/watch/"+url.PathEscape(subscriber)+"/ack", Ack{Version: version, InUse: inUse}, nil)
}

// SetWeight is POST /api/tms/{tm}/weight.
func (c *Client) SetWeight(ctx context.Context, tm string, weight int) error {
	return c.do(ctx, http.MethodPost, "/api/tms/"+url.PathEscape(tm)+"/weight", Weight{Weight: weight}, nil)
}

// Report tells the controller what TM tm says of itself.
func (c *Client) Report(ctx context.Context, tm string, r Report) error {
	return c.do(ctx, http.MethodPost, "/api/tms/"+url.PathEscape(tm)+"/report", r, nil)
}

// Drain drains (drain) or undrains TM tm. A backup does not take it (421,
// naming the primary): with the pair's URLs the client goes there.
func (c *Client) Drain(ctx context.Context, tm string, drain bool) error {
	verb := "undrain"
	if drain {
		verb = "drain"
	}
	return c.do(ctx, http.MethodPost, "/api/tms/"+url.PathEscape(tm)+"/"+verb, nil, nil)
}
