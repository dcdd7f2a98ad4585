package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// PlanConfig asks the controller what the config data (a file called name)
// would change; nothing is written.
func (c *Client) PlanConfig(ctx context.Context, name string, data []byte) (*ConfigPlan, error) {
	return c.postConfig(ctx, "/api/config/plan", name, data)
}

// ApplyConfig makes the controller apply the config data (a file called
// name). A config the controller refuses comes back as a *RejectedError.
func (c *Client) ApplyConfig(ctx context.Context, name string, data []byte) (*ConfigPlan, error) {
	return c.postConfig(ctx, "/api/config/apply", name, data)
}

func (c *Client) postConfig(ctx context.Context, path, name string, data []byte) (*ConfigPlan, error) {
	body, _ := json.Marshal(configRequest{Name: name, Config: string(data)})
	u := strings.TrimRight(c.URL, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
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
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", u, err)
	}
	var answer struct {
		ConfigPlan
		Error  string   `json:"error"`
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal(out, &answer); err != nil {
		return nil, fmt.Errorf("POST %s: %s: %w", u, resp.Status, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return &answer.ConfigPlan, nil
	case len(answer.Errors) > 0:
		return nil, &RejectedError{Errors: answer.Errors}
	default:
		return nil, fmt.Errorf("POST %s: %s: %s", u, resp.Status, answer.Error)
	}
}
