// SPDX-License-Identifier: Apache-2.0
// Packet headers and the pipeline's metadata.
// swmodel/parser.go reads the same fields at the same offsets.
#ifndef SYMDIST_HEADER_P4
#define SYMDIST_HEADER_P4

#include "define.p4"

@controller_header("packet_out")
header packet_out_t {
    port_num_t egress_port;
    bit<7>     _pad;
}

header ethernet_t {
    mac_addr_t dst_addr;
    mac_addr_t src_addr;
    bit<16>    ether_type;
}

header vlan_t {
    bit<3>  pcp;
    bit<1>  dei;
    bit<12> vlan_id;
    bit<16> ether_type;
}

header arp_t {
    bit<16>     hw_type;
    bit<16>     proto_type;
    bit<8>      hw_len;
    bit<8>      proto_len;
    bit<16>     opcode;
    mac_addr_t  sender_mac;
    ipv4_addr_t sender_ip;
    mac_addr_t  target_mac;
    ipv4_addr_t target_ip;
}

header ipv4_t {
    bit<4>      version;
    bit<4>      ihl;
    bit<8>      dscp_ecn;
    bit<16>     total_len;
    bit<16>     identification;
    bit<1>      reserved_flag;
    bit<1>      dont_fragment;
    bit<1>      more_fragments;
    bit<13>     frag_offset;
    bit<8>      ttl;
    bit<8>      protocol;
    bit<16>     hdr_checksum;
    ipv4_addr_t src_addr;
    ipv4_addr_t dst_addr;
}

// IPv4 options: (ihl - 5) * 32 bits.
header ipv4_options_t {
    varbit<320> options;
}

header ipv6_t {
    bit<4>      version;
    bit<8>      traffic_class;
    bit<20>     flow_label;
    bit<16>     payload_len;
    bit<8>      next_hdr;
    bit<8>      hop_limit;
    ipv6_addr_t src_addr;
    ipv6_addr_t dst_addr;
}

// Hop-by-Hop, Routing and Destination Options headers share this layout:
// 8 + hdr_ext_len * 8 bytes in all.
header ipv6_ext_t {
    bit<8>  next_hdr;
    bit<8>  hdr_ext_len;
    bit<48> fixed;
}

// The rest of an extension header: hdr_ext_len * 64 bits.
header ipv6_ext_data_t {
#ifdef __TARGET_TOFINO__
    // Tofino: at most 16 bytes (SymdistParser stops before a longer one).
    varbit<128> data;
#else
    varbit<16320> data;
#endif
}

header ipv6_frag_t {
    bit<8>  next_hdr;
    bit<8>  reserved;
    bit<13> frag_offset;
    bit<2>  res;
    bit<1>  more_fragments;
    bit<32> identification;
}

header tcp_t {
    bit<16> src_port;
    bit<16> dst_port;
    bit<32> seq_no;
    bit<32> ack_no;
    bit<4>  data_offset;
    bit<4>  res;
    bit<8>  flags;
    bit<16> window;
    bit<16> checksum;
    bit<16> urgent_ptr;
}

header udp_t {
    bit<16> src_port;
    bit<16> dst_port;
    bit<16> length;
    bit<16> checksum;
}

// ICMP and ICMPv6 share their first four bytes.
header icmp_t {
    bit<8>  type;
    bit<8>  code;
    bit<16> checksum;
}

header icmp_echo_t {
    bit<16> identifier;
    bit<16> sequence;
}

// The four bytes between the ICMP header and the quoted packet of an error.
header icmp_error_t {
    bit<32> rest;
}

// The first 8 bytes of the quoted TCP or UDP header of an ICMP error.
header inner_l4_t {
    bit<16> src_port;
    bit<16> dst_port;
    bit<32> rest;
}

struct headers_t {
    packet_out_t   packet_out;
    ethernet_t     ethernet;
    vlan_t         vlan;
    arp_t          arp;
    ipv4_t         ipv4;
    ipv4_options_t ipv4_options;
    ipv6_t         ipv6;
    ipv6_ext_t      ipv6_ext0;
    ipv6_ext_data_t ipv6_ext0_data;
    ipv6_ext_t      ipv6_ext1;
    ipv6_ext_data_t ipv6_ext1_data;
    ipv6_frag_t    ipv6_frag;
    tcp_t          tcp;
    udp_t          udp;
    icmp_t         icmp;
    icmp_echo_t    icmp_echo;
    icmp_error_t   icmp_error;
    ipv4_t         inner_ipv4;
    ipv4_options_t inner_ipv4_options;
    ipv6_t         inner_ipv6;
    inner_l4_t     inner_l4;
}

struct local_metadata_t {
    // Filled by the parser, which knows them from the states it went
    // through (constants there cost Tofino no MAU stage).
    bit<16>        ipv4_header_len; // IHL * 4, for IHL 5-15
    bit<16>        l4_needed;       // L4 bytes the key needs (KeySelect); 0 where no L4 header was taken
#ifdef __TARGET_TOFINO__
    bit<16>        ipv6_ext_len;    // the first IPv6 extension header's bytes
    bit<16>        ipv6_ext1_len;   // the second one's (the parser cannot add)
    bit<16>        ipv6_ext_total;  // their sum, from HeaderCheck
#else
    bit<16>        ipv6_ext_len;    // bytes of IPv6 extension headers before L4
#endif
    // Filled by HeaderCheck.
    bit<1>         malformed;
    bit<1>         is_ip;
    bit<1>         is_nd;          // IPv6 neighbour discovery or router message: never steered
    // Filled by PortRole and SymdistIngress.
    port_role_t    port_role;
    bit<1>         steerable;      // edge port, IP, not ND, unicast: goes to a TM if one is found
    // Filled by GroupClassifier.
    group_id_t     group_id;
    bit<12>        vlan_id;
    bit<8>         ip_proto;
    bit<4>         ip_version;
    ipv6_addr_t    ip_src;         // IPv4 addresses in the low 32 bits
    ipv6_addr_t    ip_dst;
    // Filled by KeySelect (contract section 2).
    bit<1>         has_key;
    bit<1>         key_is_ipv6;
    ipv4_addr_t    key_addr_v4;
    ipv6_addr_t    key_addr_v6;
    bit<16>        key_port;
    steer_reason_t reason;
    // Filled by TmSelect (contract section 3).
    bit<32>        hash;
    bucket_id_t    bucket_mask;
    bucket_id_t    bucket;
    bit<1>         direct;         // the destination is a TM's own address
    bit<1>         tm_found;       // send_to_tm ran: the TM below
    tm_id_t        tm_id;
    port_num_t     tm_port;
    mac_addr_t     tm_mac;
    bit<1>         steered;        // sent to the TM
    // Filled by L2Forward.
    bit<1>         l2_hit;         // l2_forward knows the destination MAC: l2_port
    port_num_t     l2_port;
    drop_cause_t   drop_cause;
}

#endif
