// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/ports"
)

// reservedPortsPath is the sysctl net.ipv4.ip_local_reserved_ports.
const reservedPortsPath = "/proc/sys/net/ipv4/ip_local_reserved_ports"

// reservedWatch keeps a reserved-ports file right for one TM and SNAT
// address: every table the controller pushes is written before it is
// acknowledged, so the kernel stops picking a lost port before the
// switches move its bucket (docs/tm.md).
type reservedWatch struct {
	client   *adminapi.Client
	tm       string
	snat     netip.Addr
	minPort  uint16
	lo, hi   uint16
	path     string
	log      *slog.Logger
	lastSent string
}

func (w *reservedWatch) run(ctx context.Context) {
	last := ""
	apply := func(ev adminapi.Event) error {
		last = "" // the watch works: log the next failure
		return w.apply(ev)
	}
	f := adminapi.Follower{Client: w.client, TM: w.tm, Apply: apply, OnError: func(err error) {
		if msg := err.Error(); msg != last { // once until it changes
			w.log.Warn("bucket table watch", "controller", w.client.URL, "err", err)
			last = msg
		}
	}}
	f.Run(ctx)
}

// apply writes the reserved ports of one table; an error leaves the table
// unacknowledged.
func (w *reservedWatch) apply(ev adminapi.Event) error {
	tab, err := ports.Compute(ev.Buckets, w.tm, w.snat, w.minPort)
	if err != nil {
		return err
	}
	// Ports other TMs sharing the address still use stay reserved: the
	// kernel must not pick them (it cannot tell us its own in turn).
	held, err := adminapi.HeldFor(ev.Held, w.tm, w.snat)
	if err != nil {
		return err
	}
	if _, _, err := tab.UpdateReserved(ev.Buckets, held); err != nil {
		return err
	}
	value := ports.Ranges(tab.ReservedPorts(w.lo, w.hi))
	if value != w.lastSent {
		if err := writeReservedPorts(w.path, value); err != nil {
			return err
		}
		w.lastSent = value
	}
	w.log.Info("reserved ports written", "path", w.path, "version", ev.Version, "kind", ev.Kind,
		"self_ports_in_range", countIn(tab.Ports(), w.lo, w.hi), "range", fmt.Sprintf("%d-%d", w.lo, w.hi))
	return nil
}

func countIn(ps []uint16, lo, hi uint16) int {
	n := 0
	for _, p := range ps {
		if p >= lo && p <= hi {
			n++
		}
	}
	return n
}

// writeReservedPorts replaces the file's value in one open and write: the
// kernel takes at most a page per write(2) of this file and continues on
// the same descriptor, and os.File.Write goes on after a short write.
// sysctl -w would stop after the first page (docs/tm.md). The value read
// back must be the one written.
func writeReservedPorts(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte(value + "\n")); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !bytes.Equal(bytes.TrimSpace(got), []byte(value)) {
		return fmt.Errorf("%s reads back %d bytes, not the %d written", path, len(bytes.TrimSpace(got)), len(value))
	}
	return nil
}
