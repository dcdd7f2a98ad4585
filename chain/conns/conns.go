// SPDX-License-Identifier: Apache-2.0

// Package conns tells, from the host's connection tracking table, what a
// third-party TM on that host (Linux NAT, HAProxy, nginx) would report
// itself if it could (adminapi.Report): how many connections are open
// through it, and which self ports it still uses in buckets it lost
// (adminapi.InUse), so that a TM gaining those buckets and sharing the SNAT
// address does not hand them out. `symdist chain` runs it.
//
// A Scan reads one dump of the table, entry by entry (Entry), and keeps only
// counts and, per SNAT address, a bitmap of the source ports in use: its
// memory does not grow with the table. The ports become InUse against the
// bucket table in force when they are asked for (Scan.InUse), so that an
// ack of a loss names the ports of the buckets just lost.
//
// Which entries count:
//
//   - live: TCP in SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT,
//     LAST_ACK or SYN_SENT2 (simultaneous open): the connection is being
//     opened or still carries data one way at least. TIME_WAIT, CLOSE and
//     NONE do not count: the connection is over for both ends.
//   - a connection of the TM: a live entry whose original destination is
//     in a VIP prefix (a client connected to the TM: a proxy's client
//     side, or a NAT's connection), or that this host source-NATed to an
//     SNAT address (reply destination is the SNAT address, original source
//     is not: a NAT's connection to a server). A proxy's own connection
//     from the SNAT address to a server is not counted again: it serves a
//     client connection already counted. Anything else (the host's own
//     SSH, the agent's connection to the controller) is not the TM's.
//   - a self port in use: the port P of a live entry whose reply
//     destination is (SNAT, P): the host's source toward the server,
//     whether the host translated to it (NAT: the original source is the
//     client) or opened the socket from it (a proxy: the original source is
//     (SNAT, P) too).
package conns

import (
	"math/bits"
	"net/netip"
	"slices"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/contract"
	"github.com/symdist/symdist/ports"
)

// TCP conntrack states (include/uapi/linux/netfilter/nf_conntrack_tcp.h).
const (
	StateNone        = 0
	StateSynSent     = 1
	StateSynRecv     = 2
	StateEstablished = 3
	StateFinWait     = 4
	StateCloseWait   = 5
	StateLastAck     = 6
	StateTimeWait    = 7
	StateClose       = 8
	StateSynSent2    = 9
)

// ProtoTCP is TCP's IP protocol number.
const ProtoTCP = 6

// Live reports whether a TCP entry in conntrack state s is an open
// connection (see the package comment).
func Live(s uint8) bool {
	switch s {
	case StateSynSent, StateSynRecv, StateEstablished, StateFinWait, StateCloseWait, StateLastAck, StateSynSent2:
		return true
	}
	return false
}

// Tuple is one direction of an entry.
type Tuple struct {
	Src, Dst netip.AddrPort
}

// Entry is what counting needs of one conntrack entry.
type Entry struct {
	Proto uint8 // IP protocol
	State uint8 // TCP state, for Proto == ProtoTCP
	// Orig is the direction of the first packet, Reply the other one as
	// the host sends or receives it (after NAT).
	Orig, Reply Tuple
}

// Config says which entries are the TM's.
type Config struct {
	// VIPs: the addresses clients connect to.
	VIPs []netip.Prefix
	// SNAT: the TM's SNAT addresses.
	SNAT []netip.Addr
}

// bitmap is one bit per port.
type bitmap [65536 / 64]uint64

// Scan is the result of one dump.
type Scan struct {
	// Entries read (every protocol), and whether the dump stopped at the
	// cap before the end of the table: Connections and the ports are then
	// a lower bound.
	Entries   int
	Truncated bool
	// Connections: live entries of the TM.
	Connections int64

	vips []netip.Prefix
	snat []netip.Addr
	used []bitmap // per snat: ports of live entries from it
}

// NewScan starts an empty scan for cfg.
func NewScan(cfg Config) *Scan {
	s := &Scan{vips: cfg.VIPs, used: make([]bitmap, len(cfg.SNAT))}
	for _, a := range cfg.SNAT {
		s.snat = append(s.snat, a.Unmap())
	}
	return s
}

// Add counts one entry.
func (s *Scan) Add(e Entry) {
	s.Entries++
	if e.Proto != ProtoTCP || !Live(e.State) {
		return
	}
	odst := e.Orig.Dst.Addr().Unmap()
	osrc := e.Orig.Src.Addr().Unmap()
	rdst := e.Reply.Dst.Addr().Unmap()
	i := slices.Index(s.snat, rdst)
	if i >= 0 {
		p := e.Reply.Dst.Port()
		s.used[i][p/64] |= 1 << (p % 64)
	}
	if slices.ContainsFunc(s.vips, func(v netip.Prefix) bool { return v.Contains(odst) }) ||
		(i >= 0 && osrc != rdst) {
		s.Connections++
	}
}

// Used returns the ports in use on snat, in order.
func (s *Scan) Used(snat netip.Addr) []uint16 {
	i := slices.Index(s.snat, snat.Unmap())
	if i < 0 {
		return nil
	}
	return s.ports(i, nil, "")
}

// ports lists the ports in use on s.snat[i] whose bucket in buckets is not
// tm's (every port with buckets nil).
func (s *Scan) ports(i int, buckets []string, tm string) []uint16 {
	var out []uint16
	for w, word := range s.used[i] {
		for ; word != 0; word &= word - 1 {
			p := uint16(w*64 + bits.TrailingZeros64(word))
			if buckets != nil && buckets[contract.Bucket(contract.Hash(contract.Key{Addr: s.snat[i], Port: p}), len(buckets))] == tm {
				continue
			}
			out = append(out, p)
		}
	}
	return out
}

// InUse is what an ack or a report of TM tm carries given the group's
// bucket table (owner per bucket, "" for a moving one): per SNAT address,
// the ports in use whose bucket is not tm's. The table must have a power
// of two of buckets (adminapi.BucketTable.Check); with none (no table
// yet) nothing is in use. Like symdist tm's (adminapi.InUseOf), one entry
// per SNAT address that has any, as ports.Ranges writes them.
func (s *Scan) InUse(buckets []string, tm string) []adminapi.InUse {
	in, _ := s.inUse(buckets, tm)
	return in
}

// inUse is InUse and how many ports it names.
func (s *Scan) inUse(buckets []string, tm string) (in []adminapi.InUse, n int) {
	if len(buckets) == 0 || !contract.IsPowerOfTwo(len(buckets)) {
		return nil, 0
	}
	for i, a := range s.snat {
		if p := s.ports(i, buckets, tm); len(p) > 0 {
			in = append(in, adminapi.InUse{SNAT: a.String(), Ports: ports.Ranges(p)})
			n += len(p)
		}
	}
	return in, n
}
