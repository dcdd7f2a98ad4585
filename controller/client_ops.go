package controller

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

// PlanConfig asks the controller what the config data (a file called name)
// would change; nothing is written.
func (c *Client) PlanConfig(ctx context.Context, name string, data []byte) (*ConfigPlan, error) {
	return c.sendConfig(ctx, "/api/config/plan", name, data)
}

// ApplyConfig makes the controller apply the config data (a file called
// name). A config the controller refuses comes back as a *RejectedError.
func (c *Client) ApplyConfig(ctx context.Context, name string, data []byte) (*ConfigPlan, error) {
	return c.sendConfig(ctx, "/api/config/apply", name, data)
}

func (c *Client) sendConfig(ctx context.Context, path, name string, data []byte) (*ConfigPlan, error) {
	var p ConfigPlan
	if err := c.post(ctx, path, configRequest{Name: name, Config: string(data)}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Drain takes a TM out of service (drain=true) or puts it back. A backup
// controller refuses (409): drain on the primary.
func (c *Client) Drain(ctx context.Context, tm string, drain bool) error {
	verb := "undrain"
	if drain {
		verb = "drain"
	}
	var out map[string]any
	return c.post(ctx, "/api/tms/"+url.PathEscape(tm)+"/"+verb, nil, &out)
}

// post sends body as JSON and decodes a 200 answer into out; a rejected
// config comes back as a *RejectedError, other failures as an error
// naming the call and the API's message.
func (c *Client) post(ctx context.Context, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := strings.TrimRight(c.URL, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("POST %s: %w", u, err)
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(answer, out); err != nil {
			return fmt.Errorf("POST %s: %w", u, err)
		}
		return nil
	}
	var e struct {
		Error  string   `json:"error"`
		Errors []string `json:"errors"`
	}
	_ = json.Unmarshal(answer, &e)
	if len(e.Errors) > 0 {
		return &RejectedError{Errors: e.Errors}
	}
	if e.Error == "" {
		e.Error = strings.TrimSpace(string(answer))
	}
	return fmt.Errorf("POST %s: %s: %s", u, resp.Status, e.Error)
}
