package controller

import (
	"context"
	"errors"
	"net/http"
)

// PlanConfig asks the controller at c what the config data (a file called
// name) would change; nothing is written.
func PlanConfig(ctx context.Context, c *Client, name string, data []byte) (*ConfigPlan, error) {
	return sendConfig(ctx, c, "/api/config/plan", name, data)
}

// ApplyConfig makes the controller at c apply the config data (a file
// called name). A config the controller refuses comes back as a
// *RejectedError.
func ApplyConfig(ctx context.Context, c *Client, name string, data []byte) (*ConfigPlan, error) {
	return sendConfig(ctx, c, "/api/config/apply", name, data)
}

func sendConfig(ctx context.Context, c *Client, path, name string, data []byte) (*ConfigPlan, error) {
	var p ConfigPlan
	if err := c.Do(ctx, http.MethodPost, path, configRequest{Name: name, Config: string(data)}, &p); err != nil {
		var he *HTTPError
		if errors.As(err, &he) && len(he.Errors) > 0 {
			return nil, &RejectedError{Errors: he.Errors}
		}
		return nil, err
	}
	return &p, nil
}
