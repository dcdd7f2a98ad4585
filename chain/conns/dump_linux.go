// SPDX-License-Identifier: Apache-2.0

package conns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	"github.com/ti-mo/netfilter"
	"golang.org/x/sys/unix"
)

// recvTimeout bounds one read of the dump: the kernel answers a dump at
// once, a silent socket is a broken one.
const recvTimeout = 5 * time.Second

// Dump reads the host's (the network namespace's) conntrack table over
// netlink, both families, and hands fn every entry, one at a time: it
// reads the kernel's answer one socket buffer (64 KiB) at a time and never
// holds the table. It stops after max entries (max > 0) and returns
// truncated then. Needs CAP_NET_ADMIN and nf_conntrack_netlink.
//
// It decodes entries with ti-mo/conntrack but reads the socket itself:
// conntrack.Conn.Dump (and mdlayher/netlink's Receive under it) return
// the whole dump at once, a message of about 300 bytes per entry.
func Dump(max int, fn func(Entry)) (n int, truncated bool, err error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return 0, false, fmt.Errorf("conntrack: netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, false, fmt.Errorf("conntrack: bind: %w", err)
	}
	tv := unix.NsecToTimeval(recvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return 0, false, fmt.Errorf("conntrack: SO_RCVTIMEO: %w", err)
	}
	req, err := netfilter.MarshalNetlink(netfilter.Header{
		SubsystemID: netfilter.NFSubsysCTNetlink,
		MessageType: 1, // IPCTNL_MSG_CT_GET
		Family:      netfilter.ProtoUnspec,
		Flags:       netlink.Request | netlink.Dump,
	}, nil)
	if err != nil {
		return 0, false, err
	}
	const seq = 1
	req.Header.Sequence = seq
	req.Header.Length = uint32(unix.NLMSG_HDRLEN + len(req.Data)) // 4-byte aligned: a nfgenmsg
	b, err := req.MarshalBinary()
	if err != nil {
		return 0, false, err
	}
	if err := unix.Sendto(fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, false, fmt.Errorf("conntrack: dump request: %w", err)
	}
	buf := make([]byte, 64<<10)
	for {
		k, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return n, false, fmt.Errorf("conntrack: dump: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:k])
		if err != nil {
			return n, false, fmt.Errorf("conntrack: dump: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return n, false, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
						return n, false, fmt.Errorf("conntrack: dump: %w", unix.Errno(-code))
					}
				}
				return n, false, nil
			}
			var ev conntrack.Event
			nm := netlink.Message{Header: netlink.Header{Length: m.Header.Len, Type: netlink.HeaderType(m.Header.Type),
				Flags: netlink.HeaderFlags(m.Header.Flags), Sequence: m.Header.Seq, PID: m.Header.Pid}, Data: m.Data}
			if err := ev.Unmarshal(nm); err != nil || ev.Flow == nil {
				continue // not an entry of this dump
			}
			fn(entryOf(ev.Flow))
			n++
			if max > 0 && n >= max {
				return n, true, nil // closing the socket ends the dump
			}
		}
	}
}

// entryOf is what counting needs of f.
func entryOf(f *conntrack.Flow) Entry {
	e := Entry{
		Proto: f.TupleOrig.Proto.Protocol,
		Orig:  tupleOf(f.TupleOrig),
		Reply: tupleOf(f.TupleReply),
	}
	if f.ProtoInfo.TCP != nil {
		e.State = f.ProtoInfo.TCP.State
	}
	return e
}

func tupleOf(t conntrack.Tuple) Tuple {
	return Tuple{
		Src: netip.AddrPortFrom(t.IP.SourceAddress, t.Proto.SourcePort),
		Dst: netip.AddrPortFrom(t.IP.DestinationAddress, t.Proto.DestinationPort),
	}
}
