// SPDX-License-Identifier: Apache-2.0

// Package health runs a TM's configured health check once: the controller
// debounces the results into up and down, and `symdist verify` asks the
// same question without a controller.
package health

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/symdist/symdist/config"
)

// client reaches a TM's health endpoint directly: an HTTP_PROXY in the
// controller's environment must not carry its health checks elsewhere,
// and neither may the endpoint: a redirect is not followed (it is the
// answer, and a failure), so a TM cannot send the controller to another
// URL or round a loop of redirects.
var client = &http.Client{Transport: directTransport(),
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func directTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	return t
}

// Probe runs one health check of a TM as configured and returns nil when
// it passes (type none always passes). An HTTP check passes on a 2xx
// answer; a redirect (3xx) fails, naming where it pointed.
func Probe(ctx context.Context, h config.Health) error {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	switch h.Type {
	case "tcp":
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", h.Target)
		if err != nil {
			return err
		}
		return c.Close()
	case "http":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.Target, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
			return fmt.Errorf("HTTP %d redirect to %q: health checks follow no redirects (point health.target at the final URL)",
				resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	}
	return nil
}
