// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/symdist/symdist/adminapi"
)

// Config is what `symdist tm` is made of. Errors from New name the CLI flag
// a field comes from, so the command can return them as they are.
type Config struct {
	// Name is the TM's name in the controller config (--name); its self
	// ports are the ports whose bucket names it.
	Name string
	// OnTable, if set, hears every bucket table the TM takes, with its
	// chains (the built-in chaining agent, chain/agent).
	OnTable func(adminapi.BucketTable)
	// Collectors are added to GET /metrics (the chaining agent's).
	Collectors []prometheus.Collector
	// Listen are the virtual addresses, host:port (--listen, repeatable).
	Listen []string
	// Backends are the servers, IP:port (--backend, repeatable).
	Backends []string
	// Balance is "round-robin" (the default) or "least-conn" (--balance).
	Balance string
	// SNAT is the shared source address of backend connections (--snat).
	SNAT string
	// KernelPorts lets the kernel pick the source port (bind SNAT:0)
	// instead of a self-source port (--self-ports=false). A control run:
	// replies then reach this TM only when the port happens to be its.
	KernelPorts bool
	// MinPort is the lowest self port (--min-port, default 1024).
	MinPort uint16

	// The bucket table comes from Source if set, else from the
	// controller's admin API (--controller, --token), else from a JSON
	// adminapi.BucketTable file (--buckets-file). With KernelPorts it
	// may be absent (then no port is counted as a self port).
	Source BucketSource
	// Controller is the admin API's URL, or the controller pair's as a
	// comma list: the TM then follows whichever is primary.
	Controller  string
	Token       string
	BucketsFile string
	// Refresh is how often the table is fetched again (--refresh,
	// default 1s) when it is polled: from a file, or with Poll.
	Refresh time.Duration
	// Poll fetches the controller's table every Refresh instead of
	// following its watch stream (--watch=false): the controller then
	// cannot wait for this TM before it moves buckets away from it.
	Poll bool
	// Hold is how long a connection waits for a usable self port when
	// there is none (a TM that owns no bucket yet, or none free above
	// the server's port) before it fails (--hold); 0: fail at once.
	Hold time.Duration
	// LossGrace is how long, after a table takes ports away, the TM waits
	// for connections still using them to end before it acknowledges the
	// table (--loss-grace): the controller moves the buckets once every
	// TM has acknowledged, and short connections finish on the old
	// table. 0: acknowledge at once.
	LossGrace time.Duration

	// HTTP is the address of /healthz and /stats (--http); empty: none.
	HTTP string

	// ConnectTimeout bounds a backend connect (--connect-timeout,
	// default 5s).
	ConnectTimeout time.Duration
	// IdleTimeout closes a connection with no byte in either direction
	// for that long (--idle-timeout); 0: never.
	IdleTimeout time.Duration
	// BusyIdleTimeout replaces IdleTimeout while the self-port table is
	// 80% used or more (until it is back under 70%), so idle connections
	// give their ports back to new ones (--busy-idle-timeout); 0: no
	// change.
	BusyIdleTimeout time.Duration
	// MaxConnsPerClient is how many connections one client address may
	// hold at once (--max-conns-per-client); more are reset. 0: no limit.
	MaxConnsPerClient int
	// Grace is how long shutdown waits for active connections before it
	// closes them (--grace); 0: close them at once.
	Grace time.Duration
	// Freebind sets IP_FREEBIND on listeners and backend sockets, so the
	// virtual and SNAT addresses need not be configured on an interface
	// (--freebind).
	Freebind bool

	// Log receives the logs; nil: slog.Default().
	Log *slog.Logger
}

// Balance methods.
const (
	RoundRobin = "round-robin"
	LeastConn  = "least-conn"
)

const (
	defaultMinPort        = 1024
	defaultRefresh        = time.Second
	defaultConnectTimeout = 5 * time.Second
	// portAttempts is how many self ports one backend connect tries when
	// the kernel refuses a port as busy.
	portAttempts = 32
	// busyHoldoff is how long a self port that another socket holds is
	// kept out of the table.
	busyHoldoff = 30 * time.Second
)

// parsed is a checked Config.
type parsed struct {
	Config
	listen   []string
	backends []netip.AddrPort
	snat     netip.Addr
	source   BucketSource
}

func (c Config) check() (*parsed, error) {
	p := &parsed{Config: c}
	if c.Log == nil {
		p.Log = slog.Default()
	}
	if len(c.Listen) == 0 {
		return nil, errors.New("tm needs at least one --listen ADDRESS:PORT")
	}
	seen := map[string]bool{}
	for _, l := range c.Listen {
		host, port, err := net.SplitHostPort(l)
		if err != nil {
			return nil, fmt.Errorf("--listen %q: want ADDRESS:PORT, e.g. 10.0.0.100:80", l)
		}
		if host != "" {
			if _, err := netip.ParseAddr(host); err != nil {
				return nil, fmt.Errorf("--listen %q: %q is not an IP address", l, host)
			}
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return nil, fmt.Errorf("--listen %q: %q is not a port (0-65535)", l, port)
		}
		if seen[l] {
			return nil, fmt.Errorf("--listen %q given twice", l)
		}
		seen[l] = true
		p.listen = append(p.listen, l)
	}
	if c.SNAT == "" {
		return nil, errors.New("tm needs --snat ADDRESS (the shared source address of backend connections)")
	}
	snat, err := netip.ParseAddr(c.SNAT)
	if err != nil || snat.Zone() != "" {
		return nil, fmt.Errorf("--snat %q: not an IP address", c.SNAT)
	}
	snat = snat.Unmap()
	if snat.IsUnspecified() || snat.IsMulticast() {
		return nil, fmt.Errorf("--snat %q: want a unicast address", c.SNAT)
	}
	p.snat = snat
	if len(c.Backends) == 0 {
		return nil, errors.New("tm needs at least one --backend IP:PORT")
	}
	seen = map[string]bool{}
	for _, b := range c.Backends {
		ap, err := netip.ParseAddrPort(b)
		if err != nil {
			return nil, fmt.Errorf("--backend %q: want IP:PORT, e.g. 10.2.0.10:8080 (no host names)", b)
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		if ap.Port() == 0 {
			return nil, fmt.Errorf("--backend %q: port 0", b)
		}
		if ap.Port() == 65535 && !c.KernelPorts {
			return nil, fmt.Errorf("--backend %q: no source port can be greater than 65535", b)
		}
		if ap.Addr().Is4() != snat.Is4() {
			return nil, fmt.Errorf("--backend %q and --snat %s: not the same IP version", b, snat)
		}
		if seen[ap.String()] {
			return nil, fmt.Errorf("--backend %q given twice", b)
		}
		seen[ap.String()] = true
		p.backends = append(p.backends, ap)
	}
	switch c.Balance {
	case "":
		p.Balance = RoundRobin
	case RoundRobin, LeastConn:
	default:
		return nil, fmt.Errorf("--balance %q: want %s or %s", c.Balance, RoundRobin, LeastConn)
	}
	if p.MinPort == 0 {
		p.MinPort = defaultMinPort
	}
	for _, d := range []struct {
		flag string
		v    *time.Duration
		def  time.Duration
	}{
		{"--refresh", &p.Refresh, defaultRefresh},
		{"--connect-timeout", &p.ConnectTimeout, defaultConnectTimeout},
		{"--idle-timeout", &p.IdleTimeout, 0},
		{"--busy-idle-timeout", &p.BusyIdleTimeout, 0},
		{"--grace", &p.Grace, 0},
		{"--hold", &p.Hold, 0},
		{"--loss-grace", &p.LossGrace, 0},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("%s %v: must not be negative", d.flag, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.MaxConnsPerClient < 0 {
		return nil, fmt.Errorf("--max-conns-per-client %d: must not be negative (0: no limit)", c.MaxConnsPerClient)
	}
	if c.HTTP != "" {
		if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
			return nil, fmt.Errorf("--http %q: want ADDRESS:PORT, e.g. 10.0.1.1:8081", c.HTTP)
		}
	}

	switch {
	case c.Source != nil:
		p.source = c.Source
	case c.Controller != "" && c.BucketsFile != "":
		return nil, errors.New("--controller and --buckets-file: give one, not both")
	case c.Controller != "":
		for _, s := range adminapi.SplitURLs(c.Controller) { // the pair: a comma list
			if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, fmt.Errorf("--controller %q: want the admin API's URL, e.g. http://10.0.9.1:9090", s)
			}
		}
		p.source = &ControllerSource{URL: c.Controller, Token: c.Token, TM: c.Name}
	case c.BucketsFile != "":
		p.source = &FileSource{Path: c.BucketsFile}
	case !c.KernelPorts:
		return nil, errors.New("tm needs --controller URL (or --buckets-file FILE) for its self-source ports")
	}
	if p.source != nil && c.Name == "" {
		return nil, errors.New("tm needs --name: the TM's name in the controller config")
	}
	return p, nil
}
