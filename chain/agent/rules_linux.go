// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// TableName is the nftables table (one per family, ip and ip6) that holds
// the agent's rule.
const TableName = "symdist_chain"

// The rule: a TCP or ICMP packet that connection tracking finds INVALID
// (it belongs to no connection this host knows) goes to the agent's
// queue. It goes through iptables' NFQUEUE target (nft_compat), because
// kernels without CONFIG_NFT_QUEUE have no nft queue statement; with
// --queue-bypass semantics (XT_NFQ_FLAG_BYPASS), so that when no agent
// listens the packet goes on as if the rule were not there: the agent
// fails open, never into a black hole.
//
// conntrack calls a mid-stream packet of an unknown connection INVALID
// only with net.netfilter.nf_conntrack_tcp_loose=0 (1, the default, picks
// it up as a new connection); Install sets it for the namespace.

// nfqInfoV3 is struct xt_NFQ_info_v3 (queuenum, queues_total, flags),
// padded to XT_ALIGN (8 bytes) as x_tables checks.
func nfqInfoV3(queue uint16) *xt.Unknown {
	b := make([]byte, 8)
	binary.NativeEndian.PutUint16(b[0:], queue)
	binary.NativeEndian.PutUint16(b[2:], 1)    // queues_total
	binary.NativeEndian.PutUint16(b[4:], 0x01) // XT_NFQ_FLAG_BYPASS
	u := xt.Unknown(b)
	return &u
}

// Install puts the agent's rules in this network namespace for the TM
// legs ifaces (every interface when empty), sending to queue, replacing
// any the agent left before.
func Install(queue uint16, ifaces []string) error {
	if err := os.WriteFile("/proc/sys/net/netfilter/nf_conntrack_tcp_loose", []byte("0"), 0o644); err != nil {
		return fmt.Errorf("nf_conntrack_tcp_loose=0: %w", err)
	}
	// nf_conntrack_tcp_be_liberal stays 0: a packet that matches a stale
	// entry of this host (a connection it closed, its four-tuple now
	// another TM's live connection: self ports move between TMs that share
	// an SNAT address) is out of that entry's window, so INVALID, so
	// queued and chained, not reset.
	c, err := nftables.New()
	if err != nil {
		return err
	}
	for _, fam := range []struct {
		family nftables.TableFamily
		icmp   byte
	}{{nftables.TableFamilyIPv4, unix.IPPROTO_ICMP}, {nftables.TableFamilyIPv6, unix.IPPROTO_ICMPV6}} {
		t := &nftables.Table{Name: TableName, Family: fam.family}
		c.AddTable(t)
		c.DelTable(t) // start from nothing: an earlier run's rules go
		c.AddTable(t)
		ch := c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityMangle})
		names := ifaces
		if len(names) == 0 {
			names = []string{""}
		}
		for _, ifname := range names {
			for _, proto := range []byte{unix.IPPROTO_TCP, fam.icmp} {
				var ex []expr.Any
				if ifname != "" {
					ex = append(ex,
						&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
						&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifnameBytes(ifname)})
				}
				ex = append(ex,
					&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
					&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
					&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
						Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitINVALID), Xor: binaryutil.NativeEndian.PutUint32(0)},
					&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
					&expr.Target{Name: "NFQUEUE", Rev: 3, Info: nfqInfoV3(queue)},
				)
				c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: ex})
			}
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	return nil
}

// Uninstall removes the agent's tables.
func Uninstall() error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		t := &nftables.Table{Name: TableName, Family: fam}
		c.AddTable(t)
		c.DelTable(t)
	}
	return c.Flush()
}

// ifnameBytes is an interface name as the kernel compares it: padded with
// NULs to IFNAMSIZ.
func ifnameBytes(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}
