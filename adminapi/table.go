// SPDX-License-Identifier: Apache-2.0

package adminapi

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/symdist/symdist/contract"
	"github.com/symdist/symdist/internal/strictjson"
	"github.com/symdist/symdist/ports"
)

// Bounds on a bucket table as a subscriber takes it (from the watch, GET
// /api/groups/{group}/buckets or a buckets file): what the contract and
// the controller allow, so that a table over them is refused, not applied.
const (
	// MaxChains: at most 4 previous owners per bucket (the controller's
	// MaxPrevious).
	MaxChains = 4 * contract.MaxBuckets
	// MaxPeers: a group has at most as many TMs as the pipeline's
	// tm_members (1024).
	MaxPeers = 1024
	// MaxPeerMACs: switches a peer names a MAC on.
	MaxPeerMACs = 64
	// maxMACLen bounds the text of a MAC address ("02:00:00:00:00:01").
	maxMACLen = 32
	// MaxHeld: held-port entries (one per TM and SNAT address).
	MaxHeld = MaxPeers
	// MaxHeldPortsBytes bounds the port ranges of all held entries
	// together: 4 MiB is every port of 10 addresses written one by one.
	MaxHeldPortsBytes = 4 << 20

	// MaxTableBytes bounds a table's JSON (one watch line, one response
	// body, one buckets file), checked before it is decoded: the largest
	// table the bounds above allow, written by the controller (names are
	// not escaped in JSON: contract.CheckName), about 44 MB.
	MaxTableBytes = contract.MaxBuckets*(contract.MaxNameLen+3) +
		MaxChains*(contract.MaxNameLen+64) +
		MaxPeers*(contract.MaxNameLen+32+MaxPeerMACs*(contract.MaxNameLen+maxMACLen+6)) +
		MaxHeld*(contract.MaxNameLen+80) + MaxHeldPortsBytes +
		64<<10
)

// ErrBadTable is wrapped by Check's errors.
var ErrBadTable = errors.New("bad bucket table")

// Check holds a table to the contract: a power of two of at most
// contract.MaxBuckets buckets, each "" (moving) or a TM name by
// contract.CheckName; chains, peers and their names bounded as above.
// Every table a subscriber takes passes it before it is applied.
func (bt *BucketTable) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadTable, fmt.Sprintf(format, args...))
	}
	n := len(bt.Buckets)
	if n > contract.MaxBuckets || n&(n-1) != 0 {
		return bad("%d buckets: must be a power of two up to %d", n, contract.MaxBuckets)
	}
	if bt.Group != "" {
		if err := contract.CheckName(bt.Group); err != nil {
			return bad("group: %v", err)
		}
	}
	for i, name := range bt.Buckets {
		if name == "" {
			continue
		}
		if err := contract.CheckName(name); err != nil {
			return bad("bucket %d: %v", i, err)
		}
	}
	if len(bt.Chains) > MaxChains || len(bt.Chains) > 4*n {
		return bad("%d chains for %d buckets: at most 4 per bucket", len(bt.Chains), n)
	}
	for i, c := range bt.Chains {
		if c.Bucket < 0 || c.Bucket >= n {
			return bad("chain %d: bucket %d of %d", i, c.Bucket, n)
		}
		if err := contract.CheckName(c.Previous); err != nil {
			return bad("chain %d: %v", i, err)
		}
	}
	if len(bt.Peers) > MaxPeers {
		return bad("%d peers: at most %d", len(bt.Peers), MaxPeers)
	}
	for i, p := range bt.Peers {
		if err := contract.CheckName(p.TM); err != nil {
			return bad("peer %d: %v", i, err)
		}
		if len(p.MACs) > MaxPeerMACs {
			return bad("peer %s: %d MACs: at most %d", p.TM, len(p.MACs), MaxPeerMACs)
		}
		for sw, mac := range p.MACs {
			if err := contract.CheckName(sw); err != nil {
				return bad("peer %s: switch: %v", p.TM, err)
			}
			if len(mac) > maxMACLen {
				return bad("peer %s: MAC of %d bytes", p.TM, len(mac))
			}
		}
	}
	if len(bt.Held) > MaxHeld {
		return bad("%d held-port entries: at most %d", len(bt.Held), MaxHeld)
	}
	portsBytes := 0
	for i, h := range bt.Held {
		if err := contract.CheckName(h.TM); err != nil {
			return bad("held %d: %v", i, err)
		}
		if _, err := netip.ParseAddr(h.SNAT); err != nil {
			return bad("held %d: SNAT address: %v", i, err)
		}
		if portsBytes += len(h.Ports); portsBytes > MaxHeldPortsBytes {
			return bad("held ports over %d bytes", MaxHeldPortsBytes)
		}
		if _, err := ports.ParseRanges(h.Ports); err != nil {
			return bad("held %d: %v", i, err)
		}
	}
	return nil
}

// ReadTableFile reads a buckets file: one JSON BucketTable (as GET
// /api/groups/{group}/buckets returns it), of at most MaxTableBytes
// (checked before it is read), strictly decoded (no unknown fields, no
// duplicate keys, one value), with buckets, passing Check.
func ReadTableFile(path string) (BucketTable, error) {
	var bt BucketTable
	f, err := os.Open(path)
	if err != nil {
		return bt, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return bt, err
	}
	if st.Size() > MaxTableBytes {
		return bt, fmt.Errorf("%s: %w: %d bytes, more than a table can be (%d)", path, ErrBadTable, st.Size(), MaxTableBytes)
	}
	// The bound again: the file may grow after Stat.
	if err := strictjson.Decode(f, &bt, MaxTableBytes); err != nil {
		return BucketTable{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(bt.Buckets) == 0 {
		return BucketTable{}, fmt.Errorf("%s: no buckets", path)
	}
	if err := bt.Check(); err != nil {
		return BucketTable{}, fmt.Errorf("%s: %w", path, err)
	}
	return bt, nil
}
