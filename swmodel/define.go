// SPDX-License-Identifier: Apache-2.0

package swmodel

// Constants of p4src/include/define.p4 and size.p4.

const (
	etherTypeIPv4 = 0x0800
	etherTypeARP  = 0x0806
	etherTypeVLAN = 0x8100
	etherTypeQinQ = 0x88a8
	etherTypeIPv6 = 0x86dd

	ipProtoICMP   = 1
	ipProtoTCP    = 6
	ipProtoUDP    = 17
	ipProtoICMPv6 = 58
	ipv6HopByHop  = 0
	ipv6Routing   = 43
	ipv6Fragment  = 44
	ipv6DestOpts  = 60

	// ICMPv6 neighbour discovery and router messages (RFC 4861), bridged like ARP.
	icmpv6RouterSolicit = 133
	icmpv6Redirect      = 137
)

// BucketCount is BUCKET_COUNT: buckets per group.
const BucketCount = 4096

// CPUPort is CPU_PORT, the port packet-out frames arrive on.
const CPUPort = 255

// FloodGroup is FLOOD_GROUP, the multicast group of flooded frames.
const FloodGroup = 1

// Sizes of p4src/include/size.p4.
const (
	MaxPorts           = 512
	MaxGroups          = 16
	MaxTMs             = 1024
	MaxClassifierRules = 1024
	MaxTMAddresses     = 1024
	MaxL2Entries       = 4096
	BucketTableSize    = 1048576
	ReasonCount        = 8
	DropCauseCount     = 4
)

// PortRole is port_role_t.
type PortRole uint8

// The port roles of contract section 1.
const (
	RoleNone PortRole = 0
	RoleEdge PortRole = 1
	RoleTM   PortRole = 2
	RolePeer PortRole = 3
)

var portRoleNames = [...]string{"none", "edge", "tm", "peer"}

func (r PortRole) String() string {
	if int(r) < len(portRoleNames) {
		return portRoleNames[r]
	}
	return "unknown"
}

// Reason is steer_reason_t: why a steered packet went where it went.
type Reason uint8

// The steering reasons, indexes of steer_reason_counter.
const (
	ReasonNone       Reason = 0
	ReasonHashed     Reason = 1
	ReasonEqualPorts Reason = 2
	ReasonFragment   Reason = 3
	ReasonOther      Reason = 4
	ReasonICMPError  Reason = 5
	ReasonEcho       Reason = 6
	ReasonDirect     Reason = 7
)

var reasonNames = [...]string{"", "hashed", "equal_ports", "fragment", "other_protocol", "icmp_error", "echo", "direct"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// DropCause is drop_cause_t, the index of drop_counter.
type DropCause uint8

// The drop causes.
const (
	DropNone        DropCause = 0
	DropUnknownPort DropCause = 1
	DropMalformed   DropCause = 2
	DropNoTM        DropCause = 3
)

var dropCauseNames = [...]string{"", "unknown_port", "malformed", "no_tm"}

func (c DropCause) String() string {
	if int(c) < len(dropCauseNames) {
		return dropCauseNames[c]
	}
	return "unknown"
}
