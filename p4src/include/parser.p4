// SPDX-License-Identifier: Apache-2.0
// SymdistParser: Ethernet, one 802.1Q tag, ARP, IPv4 (with options), IPv6
// (up to two Hop-by-Hop/Routing/Destination-Options headers, then Fragment
// or L4), TCP, UDP, ICMP/ICMPv6, and for ICMP errors the quoted IP header and
// first 8 bytes of its TCP/UDP header.
//
// A header that the frame is too short for stays invalid and the packet goes
// on to ingress (v1model does not drop on parser errors); the ingress decides
// what that means (see docs/contract.md, "Malformed and truncated packets").
// QinQ (a second tag) is not parsed further: the frame is bridged.
#ifndef SYMDIST_PARSER_P4
#define SYMDIST_PARSER_P4

#include <core.p4>
#include <v1model.p4>

#include "header.p4"

parser SymdistParser(packet_in packet,
                     out headers_t hdr,
                     inout local_metadata_t meta,
                     inout standard_metadata_t standard_metadata) {
#ifdef __TARGET_TOFINO__
    // Tofino runs this parser again in egress, where nothing is read or
    // changed (Prune needs only the ports), and where parsing is limited
    // to 160 bytes, which the header chain below exceeds. The Tofino back
    // end takes these states as the parser's entry points (its @packet_entry
    // form, from P4-14): ingress starts at start_ingress, egress at
    // start_egress, which takes the whole frame as payload and sends it on
    // as the ingress deparser wrote it. The select is never evaluated.
    @name(".$start")
    state start {
        transition select(standard_metadata.instance_type) {
            0: start_ingress;
            1: start_egress;
            default: start_e2e_mirrored;
        }
    }

    @packet_entry @name(".start_egress")
    state start_egress {
        transition accept;
    }

    // Nothing is mirrored; without this entry the back end would parse a
    // mirrored packet from start_ingress and count that path's depth.
    @packet_entry @name(".start_e2e_mirrored")
    state start_e2e_mirrored {
        transition accept;
    }

    @name(".start")
    state start_ingress {
#else
    state start {
#endif
        meta.ipv6_ext_len = 0;
        meta.ipv4_header_len = 0;
        // l4_needed is set once, where the L4 header is taken (Tofino's
        // parser ORs a second write into the first).
#ifdef __TARGET_TOFINO__
        meta.ipv6_ext1_len = 0;
#endif
        transition select(standard_metadata.ingress_port) {
            CPU_PORT: parse_packet_out;
            default: parse_ethernet;
        }
    }

    state parse_packet_out {
        packet.extract(hdr.packet_out);
        transition parse_ethernet;
    }

    state parse_ethernet {
        packet.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_VLAN: parse_vlan;
            ETHERTYPE_QINQ: parse_vlan;
            ETHERTYPE_IPV4: parse_ipv4;
            ETHERTYPE_IPV6: parse_ipv6;
            ETHERTYPE_ARP: parse_arp;
            default: accept;
        }
    }

    state parse_vlan {
        packet.extract(hdr.vlan);
        transition select(hdr.vlan.ether_type) {
            ETHERTYPE_IPV4: parse_ipv4;
            ETHERTYPE_IPV6: parse_ipv6;
            ETHERTYPE_ARP: parse_arp;
            default: accept;
        }
    }

    state parse_arp {
        packet.extract(hdr.arp);
        transition accept;
    }

    // The header length is set by one state per IHL (IPV4_IHL_STATE).
    state parse_ipv4 {
        packet.extract(hdr.ipv4);
        transition select(hdr.ipv4.ihl) {
            4w0 &&& 4w0xc: accept; // IHL 0-3: malformed
            4w4: accept;           // IHL 4: malformed
            5: ipv4_ihl_5;
            6: ipv4_ihl_6;
            7: ipv4_ihl_7;
            8: ipv4_ihl_8;
            9: ipv4_ihl_9;
            10: ipv4_ihl_10;
            11: ipv4_ihl_11;
            12: ipv4_ihl_12;
            13: ipv4_ihl_13;
            14: ipv4_ihl_14;
            15: ipv4_ihl_15;
        }
    }

#define IPV4_IHL_STATE(n, next) \
    state ipv4_ihl_##n {                    \
        meta.ipv4_header_len = 4 * n;       \
        transition next;                    \
    }
    IPV4_IHL_STATE(5, parse_ipv4_l4)
    IPV4_IHL_STATE(6, parse_ipv4_options)
    IPV4_IHL_STATE(7, parse_ipv4_options)
    IPV4_IHL_STATE(8, parse_ipv4_options)
    IPV4_IHL_STATE(9, parse_ipv4_options)
    IPV4_IHL_STATE(10, parse_ipv4_options)
    IPV4_IHL_STATE(11, parse_ipv4_options)
    IPV4_IHL_STATE(12, parse_ipv4_options)
    IPV4_IHL_STATE(13, parse_ipv4_options)
    IPV4_IHL_STATE(14, parse_ipv4_options)
    IPV4_IHL_STATE(15, parse_ipv4_options)

    state parse_ipv4_options {
        packet.extract(hdr.ipv4_options,
                       (bit<32>)(((bit<16>)hdr.ipv4.ihl - 5) << 5));
        transition parse_ipv4_l4;
    }

    // Only the first fragment carries the L4 header.
    state parse_ipv4_l4 {
        transition select(hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
            (0, IP_PROTO_TCP): parse_tcp;
            (0, IP_PROTO_UDP): parse_udp;
            (0, IP_PROTO_ICMP): parse_icmp_v4;
            default: accept;
        }
    }

    state parse_ipv6 {
        packet.extract(hdr.ipv6);
        transition select(hdr.ipv6.next_hdr) {
            IPV6_HOP_BY_HOP: parse_ipv6_ext0;
            IPV6_ROUTING: parse_ipv6_ext0;
            IPV6_DEST_OPTS: parse_ipv6_ext0;
            IPV6_FRAGMENT: parse_ipv6_frag;
            IP_PROTO_TCP: parse_tcp;
            IP_PROTO_UDP: parse_udp;
            IP_PROTO_ICMPV6: parse_icmp_v6;
            default: accept;
        }
    }

    state parse_ipv6_ext0 {
        packet.extract(hdr.ipv6_ext0);
#ifdef __TARGET_TOFINO__
        // Tofino's parser cannot add, and holds every byte it takes in PHV:
        // it takes extension headers of 8, 16 or 24 bytes, each length a
        // state that sets the header's length (HeaderCheck adds the two).
        // A longer one is where parsing stops: it and the rest of the
        // packet go out as they came, and no L4 header is seen.
        transition select(hdr.ipv6_ext0.hdr_ext_len) {
            0: parse_ipv6_ext0_8;
            1: parse_ipv6_ext0_16;
            2: parse_ipv6_ext0_24;
            default: accept;
        }
    }

    state parse_ipv6_ext0_8 {
        meta.ipv6_ext_len = 8;
        transition parse_ipv6_ext0_data;
    }

    state parse_ipv6_ext0_16 {
        meta.ipv6_ext_len = 16;
        transition parse_ipv6_ext0_data;
    }

    state parse_ipv6_ext0_24 {
        meta.ipv6_ext_len = 24;
        transition parse_ipv6_ext0_data;
    }

    state parse_ipv6_ext0_data {
#endif
        packet.extract(hdr.ipv6_ext0_data,
                       (bit<32>)((bit<16>)hdr.ipv6_ext0.hdr_ext_len << 6));
#ifndef __TARGET_TOFINO__
        meta.ipv6_ext_len = ((bit<16>)hdr.ipv6_ext0.hdr_ext_len << 3) + 8;
#endif
        transition select(hdr.ipv6_ext0.next_hdr) {
            IPV6_HOP_BY_HOP: parse_ipv6_ext1;
            IPV6_ROUTING: parse_ipv6_ext1;
            IPV6_DEST_OPTS: parse_ipv6_ext1;
            IPV6_FRAGMENT: parse_ipv6_frag;
            IP_PROTO_TCP: parse_tcp;
            IP_PROTO_UDP: parse_udp;
            IP_PROTO_ICMPV6: parse_icmp_v6;
            default: accept;
        }
    }

    // A third extension header is not parsed: the packet has no L4 header
    // as far as steering is concerned.
    state parse_ipv6_ext1 {
        packet.extract(hdr.ipv6_ext1);
#ifdef __TARGET_TOFINO__
        transition select(hdr.ipv6_ext1.hdr_ext_len) {
            0: parse_ipv6_ext1_8;
            1: parse_ipv6_ext1_16;
            2: parse_ipv6_ext1_24;
            default: accept;
        }
    }

    state parse_ipv6_ext1_8 {
        meta.ipv6_ext1_len = 8;
        transition parse_ipv6_ext1_data;
    }

    state parse_ipv6_ext1_16 {
        meta.ipv6_ext1_len = 16;
        transition parse_ipv6_ext1_data;
    }

    state parse_ipv6_ext1_24 {
        meta.ipv6_ext1_len = 24;
        transition parse_ipv6_ext1_data;
    }

    state parse_ipv6_ext1_data {
#endif
        packet.extract(hdr.ipv6_ext1_data,
                       (bit<32>)((bit<16>)hdr.ipv6_ext1.hdr_ext_len << 6));
#ifndef __TARGET_TOFINO__
        meta.ipv6_ext_len = meta.ipv6_ext_len + ((bit<16>)hdr.ipv6_ext1.hdr_ext_len << 3) + 8;
#endif
        transition select(hdr.ipv6_ext1.next_hdr) {
            IPV6_FRAGMENT: parse_ipv6_frag;
            IP_PROTO_TCP: parse_tcp;
            IP_PROTO_UDP: parse_udp;
            IP_PROTO_ICMPV6: parse_icmp_v6;
            default: accept;
        }
    }

    // Every IPv6 fragment goes to the default TM, so nothing after it is read.
    state parse_ipv6_frag {
        packet.extract(hdr.ipv6_frag);
        transition accept;
    }

    state parse_tcp {
        packet.extract(hdr.tcp);
        meta.l4_needed = 20;
        transition accept;
    }

    state parse_udp {
        packet.extract(hdr.udp);
        meta.l4_needed = 8;
        transition accept;
    }

    state parse_icmp_v4 {
        packet.extract(hdr.icmp);
        transition select(hdr.icmp.type) {
            0: parse_icmp_echo;
            8: parse_icmp_echo;
            3: parse_icmp_error_v4;
            4: parse_icmp_error_v4;
            5: parse_icmp_error_v4;
            11: parse_icmp_error_v4;
            12: parse_icmp_error_v4;
            default: accept;
        }
    }

    state parse_icmp_v6 {
        packet.extract(hdr.icmp);
        transition select(hdr.icmp.type) {
            128: parse_icmp_echo;
            129: parse_icmp_echo;
            1: parse_icmp_error_v6;
            2: parse_icmp_error_v6;
            3: parse_icmp_error_v6;
            4: parse_icmp_error_v6;
            default: accept;
        }
    }

    state parse_icmp_echo {
        packet.extract(hdr.icmp_echo);
        meta.l4_needed = 8;
        transition accept;
    }

    // An ICMP error's key needs 8 bytes, the quoted IP header and 8 more:
    // one state per quoted IHL sets that.
    state parse_icmp_error_v4 {
        packet.extract(hdr.icmp_error);
        packet.extract(hdr.inner_ipv4);
        transition select(hdr.inner_ipv4.ihl) {
            4w0 &&& 4w0xc: accept;
            4w4: accept;
            5: inner_ipv4_ihl_5;
            6: inner_ipv4_ihl_6;
            7: inner_ipv4_ihl_7;
            8: inner_ipv4_ihl_8;
            9: inner_ipv4_ihl_9;
            10: inner_ipv4_ihl_10;
            11: inner_ipv4_ihl_11;
            12: inner_ipv4_ihl_12;
            13: inner_ipv4_ihl_13;
            14: inner_ipv4_ihl_14;
            15: inner_ipv4_ihl_15;
        }
    }

#define INNER_IPV4_IHL_STATE(n, next) \
    state inner_ipv4_ihl_##n {              \
        meta.l4_needed = 16 + 4 * n;        \
        transition next;                    \
    }
    INNER_IPV4_IHL_STATE(5, parse_inner_ipv4_l4)
    INNER_IPV4_IHL_STATE(6, parse_inner_ipv4_options)
    INNER_IPV4_IHL_STATE(7, parse_inner_ipv4_options)
    INNER_IPV4_IHL_STATE(8, parse_inner_ipv4_options)
    INNER_IPV4_IHL_STATE(9, parse_inner_ipv4_options)
    INNER_IPV4_IHL_STATE(10, parse_inner_ipv4_options)
    INNER_IPV4_IHL_STATE(11, parse_inner_ipv4_options)
    INNER_IPV4_IHL_STATE(12, parse_inner_ipv4_options)
    INNER_IPV4_IHL_STATE(13, parse_inner_ipv4_options)
    INNER_IPV4_IHL_STATE(14, parse_inner_ipv4_options)
    INNER_IPV4_IHL_STATE(15, parse_inner_ipv4_options)

    state parse_inner_ipv4_options {
        packet.extract(hdr.inner_ipv4_options,
                       (bit<32>)(((bit<16>)hdr.inner_ipv4.ihl - 5) << 5));
        transition parse_inner_ipv4_l4;
    }

    state parse_inner_ipv4_l4 {
        transition select(hdr.inner_ipv4.frag_offset, hdr.inner_ipv4.protocol) {
            (0, IP_PROTO_TCP): parse_inner_l4;
            (0, IP_PROTO_UDP): parse_inner_l4;
            default: accept;
        }
    }

    state parse_icmp_error_v6 {
        packet.extract(hdr.icmp_error);
        packet.extract(hdr.inner_ipv6);
        meta.l4_needed = 56; // 8 + 40 + 8
        transition select(hdr.inner_ipv6.next_hdr) {
            IP_PROTO_TCP: parse_inner_l4;
            IP_PROTO_UDP: parse_inner_l4;
            default: accept;
        }
    }

    state parse_inner_l4 {
        packet.extract(hdr.inner_l4);
        transition accept;
    }
}

#endif
