// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"context"
	"net"
	"testing"
)

// AdminServer is what serves an admin API on a listener: the controller.
// An interface so that the controller's own tests can use ServeAdmin.
type AdminServer interface {
	ServeAdmin(ctx context.Context, ln net.Listener) error
}

// ServeAdmin serves s's admin API on a loopback port until the test ends,
// and waits for it to stop then. It returns the address (host:port).
func ServeAdmin(t testing.TB, s AdminServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.ServeAdmin(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}
