package controller

import (
	"context"
	"net/http"
	"net/url"
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
	if err := c.call(ctx, http.MethodPost, path, configRequest{Name: name, Config: string(data)}, &p); err != nil {
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
	return c.call(ctx, http.MethodPost, "/api/tms/"+url.PathEscape(tm)+"/"+verb, nil, &out)
}
