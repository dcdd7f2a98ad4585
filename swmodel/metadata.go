// SPDX-License-Identifier: Apache-2.0

package swmodel

// localMetadata mirrors local_metadata_t (p4src/include/header.p4).
type localMetadata struct {
	ipv6ExtLen uint16

	malformed bool
	isIP      bool
	isND      bool // IPv6 neighbour discovery or router message: never steered

	portRole  PortRole
	groupID   uint16
	vlanID    uint16
	ipVersion uint8
	ipSrc     addr128 // IPv4 addresses in the low 32 bits
	ipDst     addr128
	ipProto   uint8

	hasKey    bool
	keyIsIPv6 bool
	keyAddrV4 [4]byte
	keyAddrV6 [16]byte
	keyPort   uint16
	reason    Reason

	hash       uint32
	bucketMask uint16
	bucket     uint16
	tmID       uint16
	tmMAC      [6]byte // what send_to_tm writes to hdr.ethernet.dst_addr
	steered    bool

	dropCause DropCause
}

// standardMetadata is the part of v1model's standard_metadata_t the
// pipeline uses.
type standardMetadata struct {
	ingressPort uint16
	egressSpec  uint16
	mcastGrp    uint16
	drop        bool
}
