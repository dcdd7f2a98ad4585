// SPDX-License-Identifier: Apache-2.0

// Package chain decides, on a TM host, what becomes of a packet of a
// connection the host holds no state for: when its bucket (by the
// contract's key, client side or server side) moved away from another TM
// within the chain window, the packet goes to that previous owner, which
// still serves the connection ("Chaining" in docs/tmapi.md). Everything
// else is left to the host as it would be without chaining.
//
// One hop, never a loop: a TM chains only packets the distributor sent it,
// to the bucket's previous owners that are not itself (a bucket that moved
// more than once within the window has several, and only one of them
// holds a given connection). A frame that comes from another TM of the
// group was chained: it is never chained again, and a TM that holds no
// state for it drops it rather than reset a connection another previous
// owner serves. That rule, not the tables, keeps packets from going back
// and forth while tables reach the TMs at slightly different times.
package chain

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/contract"
)

// Link is a bucket's previous owner and when its chain ends.
type Link struct {
	Previous string
	Until    time.Time
}

// State is what a TM knows of its group from the controller's watch.
type State struct {
	Self    string
	Buckets []string       // owner per bucket; "" while the bucket moves
	Links   map[int][]Link // by bucket, latest previous owner first
	// Peers are the group's TMs by name: their MAC on each switch.
	Peers map[string]map[string]net.HardwareAddr
}

// NewState is the state of TM self after a table received at now.
// Chains and peers that do not parse are left out: a TM the controller
// did not name is never sent anything.
func NewState(self string, buckets []string, chains []adminapi.Chain, peers []adminapi.Peer, now time.Time) *State {
	s := &State{Self: self, Buckets: buckets, Links: map[int][]Link{}, Peers: map[string]map[string]net.HardwareAddr{}}
	for _, p := range peers {
		macs := map[string]net.HardwareAddr{}
		for sw, m := range p.MACs {
			if hw, err := net.ParseMAC(m); err == nil && len(hw) == 6 {
				macs[sw] = hw
			}
		}
		s.Peers[p.TM] = macs
	}
	for _, c := range chains {
		if c.Bucket < 0 || c.Bucket >= len(buckets) || c.LeftMS <= 0 || s.Peers[c.Previous] == nil {
			continue
		}
		if len(s.Links[c.Bucket]) < maxLinks {
			s.Links[c.Bucket] = append(s.Links[c.Bucket], Link{Previous: c.Previous, Until: now.Add(time.Duration(c.LeftMS) * time.Millisecond)})
		}
	}
	return s
}

// fromPeer says whether src is the MAC of another TM of the group.
func (s *State) fromPeer(src net.HardwareAddr) bool {
	if len(src) != 6 {
		return false
	}
	for tm, macs := range s.Peers {
		if tm == s.Self {
			continue
		}
		for _, m := range macs {
			if bytes.Equal(m, src) {
				return true
			}
		}
	}
	return false
}

// maxLinks bounds the previous owners of a bucket a packet is sent to
// (the controller publishes at most 4).
const maxLinks = 4

// Reason says why a packet was or was not chained; the agent counts each.
type Reason string

// Reasons.
const (
	Chained        Reason = "chained"          // sent to the previous owner
	NotTCP         Reason = "not_tcp"          // UDP and the rest: as without chaining
	NewConnection  Reason = "syn"              // a SYN opens a connection here
	Unparsable     Reason = "malformed"        // too short, or not IP
	NoKey          Reason = "no_key"           // equal ports, a fragment: the default TM's
	NoPrevious     Reason = "no_previous"      // the bucket has no chain
	Expired        Reason = "expired"          // its chain window has passed
	NotOwner       Reason = "not_owner"        // another TM owns the bucket: never chain on
	PreviousIsSelf Reason = "previous_is_self" // a chained packet reached its end
	NotHeldHere    Reason = "not_held_here"    // chained here, held by no connection of this host: drop, do not reset (another previous owner holds it)
	NoTable        Reason = "no_table"         // no table from the controller yet
)

// Decision is what to do with one packet.
type Decision struct {
	Reason   Reason
	Bucket   int
	Previous []string // with Chained: the TMs to send it to, latest first
}

// Decide decides for pkt, an IPv4 or IPv6 packet (no link layer) the
// host's connection tracking has no state for, that came in a frame from
// source MAC src (nil: not known).
//
// A frame from another TM of the group was chained here: it is never
// chained again, whatever this host's table says (tables reach the TMs at
// slightly different times, and only this rule, not the tables, keeps a
// packet from going back and forth), and it is dropped rather than reset:
// another previous owner holds its connection.
func (s *State) Decide(pkt []byte, src net.HardwareAddr, now time.Time) Decision {
	if s != nil && s.fromPeer(src) {
		return Decision{Reason: NotHeldHere, Bucket: -1}
	}
	if s == nil || len(s.Buckets) == 0 {
		return Decision{Reason: NoTable, Bucket: -1}
	}
	key, reason := packetKey(pkt)
	if reason != "" {
		return Decision{Reason: reason, Bucket: -1}
	}
	b := contract.Bucket(contract.Hash(key), len(s.Buckets))
	d := Decision{Bucket: b}
	links := s.Links[b]
	d.Reason = NoPrevious
	if owner := s.Buckets[b]; owner != s.Self && owner != "" {
		// The switches sent it here, yet this table names another owner:
		// the table is behind (the move's gain has not reached this TM
		// yet). The owner it names is the bucket's previous one.
		d.Reason, d.Previous = Chained, []string{owner}
	}
	for _, l := range links {
		switch {
		case l.Previous == s.Self:
			if d.Reason == NoPrevious {
				d.Reason = PreviousIsSelf
			}
		case !now.Before(l.Until):
			if d.Reason == NoPrevious {
				d.Reason = Expired
			}
		case !slices.Contains(d.Previous, l.Previous):
			d.Reason = Chained
			d.Previous = append(d.Previous, l.Previous)
		}
	}
	return d
}

// The IP protocol numbers and ICMP types that matter here.
const (
	protoTCP    = 6
	protoICMP   = 1
	protoICMPv6 = 58
)

// packetKey is the contract key of a TCP packet, or of the TCP packet an
// ICMP error quotes, or why there is none to chain by.
func packetKey(pkt []byte) (contract.Key, Reason) {
	l4, proto, src, dst, reason := ipHeader(pkt)
	if reason != "" {
		return contract.Key{}, reason
	}
	switch {
	case proto == protoTCP:
		if len(l4) < 20 {
			return contract.Key{}, Unparsable
		}
		// A SYN without ACK opens a connection: the bucket's owner takes it.
		if flags := l4[13]; flags&0x02 != 0 && flags&0x10 == 0 {
			return contract.Key{}, NewConnection
		}
		return portsKey(src, dst, l4)
	case proto == protoICMP && len(l4) >= 8 && isICMPv4Error(l4[0]),
		proto == protoICMPv6 && len(l4) >= 8 && l4[0] >= 1 && l4[0] <= 4:
		inner, innerProto, isrc, idst, reason := ipHeader(l4[8:])
		switch {
		case reason != "": // a quote too short to read, or of a fragment: the default TM's
			return contract.Key{}, NoKey
		case innerProto != protoTCP:
			return contract.Key{}, NotTCP
		case len(inner) < 8: // the contract wants 8 quoted L4 bytes
			return contract.Key{}, NoKey
		}
		return portsKey(isrc, idst, inner)
	}
	return contract.Key{}, NotTCP
}

func isICMPv4Error(t byte) bool { return t == 3 || t == 4 || t == 5 || t == 11 || t == 12 }

func portsKey(src, dst netip.Addr, l4 []byte) (contract.Key, Reason) {
	k, ok := contract.KeyForPorts(src, binary.BigEndian.Uint16(l4), dst, binary.BigEndian.Uint16(l4[2:]))
	if !ok {
		return contract.Key{}, NoKey
	}
	return k, ""
}

// ipHeader returns what follows the IP header(s) of pkt, the protocol, and
// the addresses. A fragment other than the first, or any fragment of a
// packet whose key cannot be read, has no key. IPv6 extension headers
// (hop-by-hop, routing, destination options) are skipped.
func ipHeader(pkt []byte) (l4 []byte, proto byte, src, dst netip.Addr, reason Reason) {
	if len(pkt) < 1 {
		return nil, 0, src, dst, Unparsable
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 {
			return nil, 0, src, dst, Unparsable
		}
		ihl := int(pkt[0]&0x0f) * 4
		if ihl < 20 || len(pkt) < ihl {
			return nil, 0, src, dst, Unparsable
		}
		if frag := binary.BigEndian.Uint16(pkt[6:]); frag&0x3fff != 0 { // MF or an offset
			return nil, 0, src, dst, NoKey
		}
		src, _ = netip.AddrFromSlice(pkt[12:16])
		dst, _ = netip.AddrFromSlice(pkt[16:20])
		return pkt[ihl:], pkt[9], src, dst, ""
	case 6:
		if len(pkt) < 40 {
			return nil, 0, src, dst, Unparsable
		}
		src, _ = netip.AddrFromSlice(pkt[8:24])
		dst, _ = netip.AddrFromSlice(pkt[24:40])
		next, rest := pkt[6], pkt[40:]
		for range 3 { // as many extension headers as the contract's parser reads, and one more
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(rest) < 8 || len(rest) < 8+int(rest[1])*8 {
					return nil, 0, src, dst, Unparsable
				}
				next, rest = rest[0], rest[8+int(rest[1])*8:]
			case 44: // fragment
				return nil, 0, src, dst, NoKey
			default:
				return rest, next, src, dst, ""
			}
		}
		return nil, 0, src, dst, NoKey
	}
	return nil, 0, src, dst, Unparsable
}

// Destination is where a TCP packet goes: its destination address and
// port. An agent tells its TM the ones it chained (a TM that shares its
// SNAT address with the previous owner must not reuse that port).
func Destination(pkt []byte) (netip.AddrPort, bool) {
	l4, proto, _, dst, reason := ipHeader(pkt)
	if reason != "" || proto != protoTCP || len(l4) < 4 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(dst.Unmap(), binary.BigEndian.Uint16(l4[2:])), true
}
