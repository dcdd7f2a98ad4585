// SPDX-License-Identifier: Apache-2.0

package capture

import (
	"fmt"
	"net"

	"github.com/google/gopacket/layers"
)

// The Ethernet header raw IP packets get: the pipeline parses Ethernet
// only. Locally administered unicast addresses, so that the packet is
// classified and steered as one from a host would be (a group address
// would be bridged), and the EtherType of the IP version.
var (
	RawIPSrcMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	RawIPDstMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
)

// Ethernet returns p as an Ethernet frame, appended to buf[:0]. Ethernet
// packets come back as captured; raw IP ones (link types 101, 228, 229)
// wrapped in RawIPSrcMAC > RawIPDstMAC and the EtherType of their version,
// with wrapped true. A raw IP packet (101) whose version is neither 4 nor 6
// is an error naming it.
func Ethernet(p Packet, buf []byte) (frame []byte, wrapped bool, err error) {
	var etherType layers.EthernetType
	switch p.LinkType {
	case layers.LinkTypeEthernet:
		return append(buf[:0], p.Data...), false, nil
	case layers.LinkTypeIPv4:
		etherType = layers.EthernetTypeIPv4
	case layers.LinkTypeIPv6:
		etherType = layers.EthernetTypeIPv6
	case layers.LinkTypeRaw:
		var version byte
		if len(p.Data) > 0 {
			version = p.Data[0] >> 4
		}
		switch version {
		case 4:
			etherType = layers.EthernetTypeIPv4
		case 6:
			etherType = layers.EthernetTypeIPv6
		default:
			return nil, false, &Error{Index: p.Index, Offset: p.Offset, Err: fmt.Errorf("raw IP packet of %d bytes with IP version %d: want 4 or 6", len(p.Data), version)}
		}
	default:
		return nil, false, &Error{Index: p.Index, Offset: p.Offset, Err: checkLinkType(p.LinkType)}
	}
	frame = append(buf[:0], RawIPDstMAC...)
	frame = append(frame, RawIPSrcMAC...)
	frame = append(frame, byte(etherType>>8), byte(etherType))
	return append(frame, p.Data...), true, nil
}
