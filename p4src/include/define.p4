// SPDX-License-Identifier: Apache-2.0
// Shared types and constants of the symdist pipeline.
// The Go software model mirrors these in swmodel/define.go.
#ifndef SYMDIST_DEFINE_P4
#define SYMDIST_DEFINE_P4

typedef bit<48>  mac_addr_t;
typedef bit<32>  ipv4_addr_t;
typedef bit<128> ipv6_addr_t;
#include "port.p4" // port_num_t: 9 bits; on Tofino translated
typedef bit<16>  group_id_t;   // 0 = no group
typedef bit<16>  bucket_id_t;
typedef bit<16>  tm_id_t;
typedef bit<8>   port_role_t;
typedef bit<8>   steer_reason_t;
typedef bit<8>   drop_cause_t;

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<16> ETHERTYPE_ARP  = 0x0806;
const bit<16> ETHERTYPE_VLAN = 0x8100;
const bit<16> ETHERTYPE_QINQ = 0x88a8;
const bit<16> ETHERTYPE_IPV6 = 0x86dd;

const bit<8> IP_PROTO_ICMP   = 1;
const bit<8> IP_PROTO_TCP    = 6;
const bit<8> IP_PROTO_UDP    = 17;
const bit<8> IP_PROTO_ICMPV6 = 58;
const bit<8> IPV6_HOP_BY_HOP = 0;
const bit<8> IPV6_ROUTING    = 43;
const bit<8> IPV6_FRAGMENT   = 44;
const bit<8> IPV6_DEST_OPTS  = 60;

// ICMPv6 neighbour discovery and router messages (RFC 4861), bridged like ARP.
const bit<8> ICMPV6_ROUTER_SOLICIT   = 133;
const bit<8> ICMPV6_ROUTER_ADVERT    = 134;
const bit<8> ICMPV6_NEIGHBOR_SOLICIT = 135;
const bit<8> ICMPV6_NEIGHBOR_ADVERT  = 136;
const bit<8> ICMPV6_REDIRECT         = 137;

// The number of buckets of a group (contract section 3) that the controller
// gave no other: a power of two. bucket_mask holds each group's own.
const bit<32> BUCKET_COUNT = 4096;
#ifdef __TARGET_TOFINO__
// Tofino: the PCIe CPU port, a device port: 320 on a 4-pipe Tofino 1
// (192 on 2-pipe parts), 0 on Tofino 2; -DTOFINO_CPU_PORT=N for others.
#ifndef TOFINO_CPU_PORT
#if __TARGET_TOFINO__ == 2
#define TOFINO_CPU_PORT 0
#else
#define TOFINO_CPU_PORT 320
#endif
#endif
const bit<9> CPU_PORT = TOFINO_CPU_PORT; // as ingress_port, not port_num_t
#else
// The port simple_switch_grpc is started with as --cpu-port.
const port_num_t CPU_PORT = 255;
#endif
// The multicast group the controller fills with the ports that flooded
// frames (ARP, ND, unknown unicast) leave by.
const bit<16> FLOOD_GROUP = 1;

// Port roles (contract section 1), set by the port_role table.
const port_role_t ROLE_NONE = 0;
const port_role_t ROLE_EDGE = 1;
const port_role_t ROLE_TM   = 2;
const port_role_t ROLE_PEER = 3;

// Why a steered packet went where it went: the index of steer_reason_counter.
const steer_reason_t REASON_HASHED      = 1; // TCP/UDP, key = greater-port side
const steer_reason_t REASON_EQUAL_PORTS = 2; // ports equal: default TM
const steer_reason_t REASON_FRAGMENT    = 3; // IP fragment: default TM
const steer_reason_t REASON_OTHER       = 4; // other protocol or truncated L4: default TM
const steer_reason_t REASON_ICMP_ERROR  = 5; // key of the quoted packet
const steer_reason_t REASON_ECHO        = 6; // ICMP echo: key = (client address, identifier)
const steer_reason_t REASON_DIRECT      = 7; // addressed to a TM's own address

// Why a packet was dropped: the index of drop_counter.
const drop_cause_t DROP_UNKNOWN_PORT = 1; // ingress port has no role
const drop_cause_t DROP_MALFORMED    = 2; // Ethernet or IP header unusable
const drop_cause_t DROP_NO_TM        = 3; // group has no bucket entry and no default TM

#endif
