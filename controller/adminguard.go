// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// AdminRequestHeader marks a body-less state-changing request as not sent
// by a web page: a browser cannot add it to a cross-site request without
// a CORS preflight, which the admin API never grants.
const AdminRequestHeader = "X-Symdist-Request"

// adminGuard protects the admin API from the web pages an operator's
// browser opens, which can reach a loopback address too:
//
//   - DNS rebinding: every request's Host must be a name this controller is
//     reached by: an IP address (loopback, the one it listens on, or any
//     when it listens on all), "localhost", or a name in admin.hosts. An
//     attacker's page carries the attacker's own name in Host.
//   - CSRF: a state-changing request (any method but GET, HEAD, OPTIONS) is
//     refused when its Origin is another site or Sec-Fetch-Site says
//     cross-site or same-site, and it must be one no page can send without
//     a CORS preflight: a body needs Content-Type application/json; an
//     empty body needs that Content-Type, an AdminRequestHeader or an
//     Authorization header.
//
// Clients that are not browsers (symdist, curl) send no Origin; symdist's
// client sends Content-Type application/json.
type adminGuard struct {
	next  http.Handler
	names map[string]bool // lower case, no trailing dot
	ip    netip.Addr      // the address listened on; invalid: a name
	anyIP bool            // listening on all addresses
}

// guardAdmin wraps the admin API for a server listening on listen
// (host:port) and reached by the extra names hosts.
func guardAdmin(next http.Handler, listen string, hosts []string) http.Handler {
	g := &adminGuard{next: next, names: map[string]bool{"localhost": true}}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host = listen
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		g.ip, g.anyIP = ip.Unmap(), ip.IsUnspecified()
	} else if host == "" {
		g.anyIP = true
	} else {
		g.names[canonicalHost(host)] = true
	}
	for _, h := range hosts {
		g.names[canonicalHost(h)] = true
	}
	return g
}

func canonicalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// hostAllowed reports whether hostport (a Host header or an Origin's host)
// names this controller.
func (g *adminGuard) hostAllowed(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		return ip.IsLoopback() || g.anyIP || ip == g.ip
	}
	return g.names[canonicalHost(host)]
}

func (g *adminGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := g.check(r); err != nil {
		code := http.StatusForbidden
		if errors.Is(err, errNotJSON) {
			code = http.StatusUnsupportedMediaType
		}
		writeJSON(w, code, map[string]string{"error": err.Error()})
		return
	}
	g.next.ServeHTTP(w, r)
}

var errNotJSON = errors.New("a request that changes state must have Content-Type: application/json")

// check returns why r is refused, or nil.
func (g *adminGuard) check(r *http.Request) error {
	if r.Host != "" && !g.hostAllowed(r.Host) {
		return fmt.Errorf("host %q does not name this controller (use its address, localhost, or add the name to admin.hosts)", r.Host)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return fmt.Errorf("cross-site request refused (Sec-Fetch-Site: %s)", site)
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) || !g.hostAllowed(u.Host) {
			return fmt.Errorf("cross-origin request refused (Origin: %s)", origin)
		}
	}
	json := false
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		json = err == nil && mt == "application/json"
	}
	hasBody := r.ContentLength != 0 // -1: unknown (chunked)
	switch {
	case json:
		return nil
	case hasBody:
		return errNotJSON
	case r.Header.Get(AdminRequestHeader) != "" || r.Header.Get("Authorization") != "":
		return nil
	}
	return fmt.Errorf("a request that changes state needs Content-Type: application/json or an %s header", AdminRequestHeader)
}
