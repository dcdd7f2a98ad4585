// SPDX-License-Identifier: Apache-2.0

// Package ports computes and hands out a TM's self-source ports (contract
// section 5, the patent's figure 9): the source ports p of a shared SNAT
// address s whose key (s, p) hashes to a bucket the TM owns. A connection
// from s:p to a server port d < p has p as its greater port, so the
// server's reply hashes to this TM, whichever TM shares the address.
//
// Compute builds a TM's Table from its group's bucket table.
// Table.Allocate(d) hands out a free self port above d in constant time,
// Release gives it back, Update follows a new bucket table, and
// ReservedPorts gives the complement for ip_local_reserved_ports.
package ports

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/symdist/symdist/contract"
)

const words = 65536 / 64

// bitmap is one bit per port.
type bitmap [words]uint64

func (b *bitmap) set(p uint16)      { b[p/64] |= 1 << (p % 64) }
func (b *bitmap) clear(p uint16)    { b[p/64] &^= 1 << (p % 64) }
func (b *bitmap) has(p uint16) bool { return b[p/64]&(1<<(p%64)) != 0 }

// next returns the first set port at or after from (wrapping to min), or
// false. It tests at most 1025 words: constant time.
func (b *bitmap) next(from, min uint16) (uint16, bool) {
	try := func(lo, hi int) (uint16, bool) { // ports [lo, hi)
		for w := lo / 64; w*64 < hi; w++ {
			word := b[w]
			if w == lo/64 {
				word &= ^uint64(0) << (lo % 64)
			}
			if word != 0 {
				p := w*64 + bits.TrailingZeros64(word)
				if p < hi {
					return uint16(p), true
				}
				return 0, false
			}
		}
		return 0, false
	}
	if p, ok := try(int(from), 65536); ok {
		return p, true
	}
	return try(int(min), int(from))
}

// Table is one TM's self-source ports for one SNAT address, and which of
// them are in use. Safe for concurrent use.
type Table struct {
	TM      string
	SNAT    netip.Addr
	MinPort uint16

	mu       sync.Mutex
	own      bitmap // self ports
	inUse    bitmap // handed out, not yet released
	reserved bitmap // other TMs' connections still use them: never handed out
	free     bitmap // own, not in use, not reserved
	nOwn     int
	nFree    int
	cursor   uint16 // where the next search starts, so ports rotate
}

// Compute builds the table from a group's bucket table (owner TM name per
// bucket, as GET /api/groups/{group}/buckets returns it).
func Compute(buckets []string, tm string, snat netip.Addr, minPort uint16) (*Table, error) {
	if !contract.IsPowerOfTwo(len(buckets)) {
		return nil, fmt.Errorf("bucket table has %d buckets, want a power of two", len(buckets))
	}
	if !snat.IsValid() {
		return nil, errors.New("no SNAT address")
	}
	if minPort == 0 {
		minPort = 1
	}
	t := &Table{TM: tm, SNAT: snat.Unmap(), MinPort: minPort, cursor: minPort}
	t.own = owned(buckets, tm, t.SNAT, minPort)
	t.free = t.own
	t.nOwn = count(&t.own)
	t.nFree = t.nOwn
	return t, nil
}

func owned(buckets []string, tm string, snat netip.Addr, minPort uint16) bitmap {
	var own bitmap
	for p := int(minPort); p < 65536; p++ {
		h := contract.Hash(contract.Key{Addr: snat, Port: uint16(p)})
		if buckets[contract.Bucket(h, len(buckets))] == tm {
			own.set(uint16(p))
		}
	}
	return own
}

func count(b *bitmap) int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// Len is the number of self ports.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nOwn
}

// Free is the number of self ports not in use.
func (t *Table) Free() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nFree
}

// InUseLost is the number of ports handed out that are no longer self
// ports (lost to a table update while in use).
func (t *Table) InUseLost() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for w := range t.inUse {
		n += bits.OnesCount64(t.inUse[w] &^ t.own[w])
	}
	return n
}

// IsOwn reports whether p is a self port.
func (t *Table) IsOwn(p uint16) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.own.has(p)
}

// Ports lists the self ports in order.
func (t *Table) Ports() []uint16 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]uint16, 0, t.nOwn)
	for p := int(t.MinPort); p < 65536; p++ {
		if t.own.has(uint16(p)) {
			out = append(out, uint16(p))
		}
	}
	return out
}

// ErrExhausted is returned when no self port above the destination port is
// free.
var ErrExhausted = errors.New("no free self-source port")

// Allocate hands out a free self port greater than dstPort (the contract
// needs the source port to be the greater one). Ports rotate: the search
// starts after the last port handed out.
func (t *Table) Allocate(dstPort uint16) (uint16, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if dstPort == 65535 {
		return 0, ErrExhausted
	}
	min := max(t.MinPort, dstPort+1)
	from := max(t.cursor, min)
	p, ok := t.free.next(from, min)
	if !ok {
		return 0, ErrExhausted
	}
	t.free.clear(p)
	t.inUse.set(p)
	t.nFree--
	t.cursor = p + 1
	if t.cursor == 0 {
		t.cursor = t.MinPort
	}
	return p, nil
}

// Hold takes port p out of allocation as if handed out, when it is free;
// Release gives it back. It reports whether p was free. A TM holds the
// self ports another TM still has a connection on (its chained packets
// say so): the shared SNAT address with that port to the same server
// would be that connection's four-tuple.
func (t *Table) Hold(p uint16) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.free.has(p) {
		return false
	}
	t.free.clear(p)
	t.inUse.set(p)
	t.nFree--
	return true
}

// Release returns a port handed out by Allocate. Releasing a port that is
// not in use is an error (a double free).
func (t *Table) Release(p uint16) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.inUse.has(p) {
		return fmt.Errorf("port %d is not in use", p)
	}
	t.inUse.clear(p)
	if t.own.has(p) && !t.reserved.has(p) {
		t.free.set(p)
		t.nFree++
	}
	return nil
}

// Update follows a new bucket table. Ports the TM gains become free;
// ports it loses are no longer handed out (one still in use stays in use
// until released, and is then dropped). It returns how many ports were
// gained and lost. Under contract section 6 a surviving TM only gains.
// The reserved ports stay as they are.
func (t *Table) Update(buckets []string) (gained, lost int, err error) {
	return t.update(buckets, nil)
}

// UpdateReserved is Update, with reserved replacing the ports never
// handed out (other TMs' connections still use them), in one step: a
// gained port another TM still uses is never free in between.
func (t *Table) UpdateReserved(buckets []string, reserved []uint16) (gained, lost int, err error) {
	var r bitmap
	for _, p := range reserved {
		r.set(p)
	}
	return t.update(buckets, &r)
}

func (t *Table) update(buckets []string, reserved *bitmap) (gained, lost int, err error) {
	if !contract.IsPowerOfTwo(len(buckets)) {
		return 0, 0, fmt.Errorf("bucket table has %d buckets, want a power of two", len(buckets))
	}
	own := owned(buckets, t.TM, t.SNAT, t.MinPort)
	t.mu.Lock()
	defer t.mu.Unlock()
	if reserved != nil {
		t.reserved = *reserved
	}
	for w := range own {
		gained += bits.OnesCount64(own[w] &^ t.own[w])
		lost += bits.OnesCount64(t.own[w] &^ own[w])
		t.free[w] = own[w] &^ t.inUse[w] &^ t.reserved[w]
	}
	t.own = own
	t.nOwn = count(&t.own)
	t.nFree = count(&t.free)
	return gained, lost, nil
}

// InUseNotOwn returns the ports in use that are no longer self ports
// (their buckets were lost), in order: what an ack reports (adminapi.InUse).
func (t *Table) InUseNotOwn() []uint16 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []uint16
	for w := range t.inUse {
		for word := t.inUse[w] &^ t.own[w]; word != 0; word &= word - 1 {
			out = append(out, uint16(w*64+bits.TrailingZeros64(word)))
		}
	}
	return out
}

// Ranges formats ports as "a-b,c,d-e".
func Ranges(ports []uint16) string {
	var b strings.Builder
	for i := 0; i < len(ports); {
		j := i
		for j+1 < len(ports) && ports[j+1] == ports[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(ports[i])))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(int(ports[j])))
		}
		i = j + 1
	}
	return b.String()
}

// ReservedPorts returns every port in [lo, hi] that is NOT a self port, or
// is reserved (another TM's connection still uses it): the value of
// net.ipv4.ip_local_reserved_ports that makes the kernel pick only self
// ports it may use from ip_local_port_range [lo, hi].
func (t *Table) ReservedPorts(lo, hi uint16) []uint16 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []uint16
	for p := int(lo); p <= int(hi); p++ {
		if !t.own.has(uint16(p)) || t.reserved.has(uint16(p)) {
			out = append(out, uint16(p))
		}
	}
	return out
}

// ParseRanges reads what Ranges writes ("a-b,c,d-e"; "" is none): ports
// 1-65535, ranges not descending. It bounds nothing but the ports
// themselves (a string of any length names at most 65,535 ports), and
// returns them in the order given, each once.
func ParseRanges(s string) ([]uint16, error) {
	if s == "" {
		return nil, nil
	}
	var seen bitmap
	var out []uint16
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil || a == 0 {
			return nil, fmt.Errorf("port ranges: %q is not a port 1-65535", lo)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil, fmt.Errorf("port ranges: %q is not a range of ports 1-65535, low to high", part)
			}
		}
		for p := a; p <= b; p++ {
			if !seen.has(uint16(p)) {
				seen.set(uint16(p))
				out = append(out, uint16(p))
			}
		}
	}
	return out, nil
}
